/**
 * Presence on a Redis Cluster when one master restarts empty (a crash without
 * persistence): only the users of that master's shards lose their records, and they
 * come back with the instance's next refresh; the others never notice. Until the
 * master is back, calls that need it reject, as they would with a single Redis away.
 */
import t from 'tap';
import { Cluster } from 'ioredis';
import { createRedisPresence, presenceShardOf } from '../../src/adapters/redis/redis-presence.js';
import { redisServerUnavailable, startRedisCluster, uniquePrefix } from '../helpers/redis-server.js';

const noRedisServer = redisServerUnavailable();

/** Waits until `check` resolves true; fails after 20 s (a guard against hanging, not a timing check). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test(
  "a master that restarts empty costs only its shards' users their records, until the next refresh",
  { skip: noRedisServer ? `needs redis-server for a local cluster: ${noRedisServer}` : false },
  async (t) => {
    const cluster = await startRedisCluster({ masters: 3 });
    t.teardown(() => cluster.close());
    const keyPrefix = uniquePrefix('presrestart');
    const store = createRedisPresence({ redis: cluster.url, cluster: true, keyPrefix, nodeId: 'a', ttlMs: 60_000 });
    t.teardown(() => store.close());
    const users = Array.from({ length: 64 }, (_, i) => `user${i}`);
    for (const userId of users) await store.connect(userId);
    t.equal((await store.online(users)).size, users.length, 'everyone is online');

    // Which users live on the master about to restart: their shard's slot is one of its slots.
    const admin = new Cluster([cluster.url]);
    t.teardown(() => admin.disconnect());
    const restarting = cluster.nodes[1]!;
    const slotOwners = await admin.cluster('SLOTS');
    const ownedByRestarting = async (userId: string) => {
      const slot = Number(await admin.cluster('KEYSLOT', `${keyPrefix}presence:{${presenceShardOf(userId)}}:expiry`));
      return slotOwners.some(([from, to, primary]) => slot >= from && slot <= to && primary?.[1] === restarting.port);
    };
    const lost = new Set<string>();
    for (const userId of users) if (await ownedByRestarting(userId)) lost.add(userId);
    t.ok(lost.size > 0 && lost.size < users.length, `${lost.size} of ${users.length} users live on the master that restarts`);

    await restarting.kill();
    await t.rejects(store.refresh(users), 'a refresh spanning its shards rejects while the master is down');
    await restarting.restart();
    await until(async () => (await store.online(users)).size === users.length - lost.size, 'the restarted master to answer');
    const online = await store.online(users);
    t.same(
      users.filter((userId) => !online.has(userId)),
      users.filter((userId) => lost.has(userId)),
      "exactly the restarted master's users lost their records; the others are still online",
    );

    await store.refresh(users);
    t.equal((await store.online(users)).size, users.length, 'the next refresh brings them back, unannounced');
    t.same(await store.sweepExpired(), [], 'and no one is swept');
  },
);
