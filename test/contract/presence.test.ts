/**
 * One contract suite (`presenceContract`) run against every PresenceStore.
 *
 * Each test gets a fresh group of instances: `group.node(nodeId, ttlMs)` is the
 * store one instance of huddle would hold. Redis stores of one group share a key
 * prefix; memory stores share one `MemoryPresenceSpace`. The Redis store runs on a
 * single Redis and on a local three-master Redis Cluster.
 *
 * Expiry is tested with a tiny ttl and a wait a little longer than it: the wait
 * is there to let records expire, nothing asserts how long anything took.
 */
import t from 'tap';
import type { PresenceStore } from '../../src/domain/presence/ports.js';
import { createMemoryPresence, createMemoryPresenceSpace } from '../../src/adapters/memory/memory-presence.js';
import { Cluster } from 'ioredis';
import { createRedisPresence, PRESENCE_SHARDS, presenceShardOf } from '../../src/adapters/redis/redis-presence.js';
import { redisServerUnavailable, startRedisCluster, uniquePrefix } from '../helpers/redis-server.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface PresenceGroup {
  node(nodeId: string, ttlMs?: number): PresenceStore;
}

interface PresenceHarness {
  name: string;
  newGroup(t: Tap): PresenceGroup;
}

const LONG_TTL_MS = 60_000;
/**
 * A shard's index outlives its last write by two ttls; a sweep that comes later finds
 * nothing to claim (in a deployment, sweeps come every quarter ttl). Long enough that a
 * loaded machine still sweeps within that window.
 */
const SHORT_TTL_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const count = (values: boolean[]) => values.filter(Boolean).length;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function presenceContract(harness: PresenceHarness) {
  const name = (what: string) => `${harness.name}: ${what}`;

  t.test(name('a user is online from the first connect until the last instance disconnects'), async (t) => {
    const group = harness.newGroup(t);
    const [a, b] = [group.node('a'), group.node('b')];

    t.equal(await a.connect('u1'), true, 'first connect: offline -> online');
    t.equal(await b.connect('u1'), false, 'second instance: already online');
    t.same([...(await b.online(['u1']))], ['u1']);

    t.equal(await a.disconnect('u1'), false, 'one instance left: still online');
    t.same([...(await a.online(['u1']))], ['u1']);

    t.equal(await b.disconnect('u1'), true, 'last instance: online -> offline');
    t.same([...(await a.online(['u1']))], []);
    t.equal(await b.disconnect('u1'), false, 'a repeated disconnect announces nothing');
  });

  t.test(name("an instance's records are a set: connect twice, one disconnect ends it"), async (t) => {
    const group = harness.newGroup(t);
    const a = group.node('a');
    t.equal(await a.connect('u1'), true);
    t.equal(await a.connect('u1'), false);
    t.equal(await a.disconnect('u1'), true);
    t.same([...(await a.online(['u1']))], []);
  });

  t.test(name('concurrent transitions are each seen by exactly one caller'), async (t) => {
    const group = harness.newGroup(t);
    const nodes = range(20).map((i) => group.node(`n${i}`));

    const connected = await Promise.all(nodes.map((node) => node.connect('u1')));
    t.equal(count(connected), 1, '20 concurrent connects from 20 instances: one offline -> online');
    t.same([...(await nodes[0]!.online(['u1']))], ['u1']);

    const disconnected = await Promise.all(nodes.map((node) => node.disconnect('u1')));
    t.equal(count(disconnected), 1, '20 concurrent disconnects: one online -> offline');
    t.same([...(await nodes[0]!.online(['u1']))], []);
  });

  t.test(name('online answers for many users at once'), async (t) => {
    const group = harness.newGroup(t);
    const [a, b] = [group.node('a'), group.node('b')];
    await a.connect('u1');
    await b.connect('u3');
    t.same([...(await a.online(['u1', 'u2', 'u3']))].sort(), ['u1', 'u3']);
    t.same([...(await a.online([]))], []);

    const many = range(1200).map((i) => `bulk${i}`);
    await Promise.all(many.filter((_, i) => i % 2 === 0).map((userId) => a.connect(userId)));
    const online = await b.online(many);
    t.equal(online.size, 600, 'half of 1200 users are online');
    t.ok(
      [...online].every((userId) => Number(userId.slice(4)) % 2 === 0),
      'exactly the connected half',
    );
  });

  t.test(name("a stalled instance's users expire, and each is claimed by exactly one sweeper"), async (t) => {
    const group = harness.newGroup(t);
    const stalled = group.node('stalled', SHORT_TTL_MS);
    const [healthy, sweeperA, sweeperB] = [group.node('healthy'), group.node('sweeperA'), group.node('sweeperB')];
    const orphans = range(50).map((i) => `orphan${i}`);
    await Promise.all(orphans.map((userId) => stalled.connect(userId)));
    await stalled.connect('both');
    await healthy.connect('both');
    await healthy.connect('alive');

    t.same(await sweeperA.sweepExpired(), [], 'nothing has expired yet');
    await sleep(SHORT_TTL_MS + 200);

    const online = await healthy.online([...orphans, 'both', 'alive']);
    t.same([...online].sort(), ['alive', 'both'], 'expired records no longer count, live ones do');

    const [claimedA, claimedB] = await Promise.all([sweeperA.sweepExpired(), sweeperB.sweepExpired()]);
    const claimed = [...claimedA, ...claimedB];
    t.equal(new Set(claimed).size, claimed.length, 'no user was claimed twice');
    t.same(claimed.sort(), [...orphans].sort(), 'every orphan was claimed, and no user with a live record');
    t.same(await sweeperA.sweepExpired(), [], 'a later sweep finds nothing');

    t.equal(await stalled.disconnect('orphan0'), false, 'the stalled instance cannot announce a claimed user again');
    t.equal(await healthy.connect('orphan1'), true, 'a claimed user who comes back is announced online');
    t.equal(await healthy.disconnect('both'), true, 'the expired record does not keep "both" online');
  });

  t.test(name('refresh keeps records alive past their ttl'), async (t) => {
    const group = harness.newGroup(t);
    // Each sleep may overrun on a loaded machine by up to 40% of the ttl before u1 would lapse.
    const ttlMs = 2000;
    const a = group.node('a', ttlMs);
    await a.connect('u1');
    await a.connect('u2');
    await sleep(ttlMs * 0.6);
    await a.refresh(['u1']);
    await a.refresh([]);
    await sleep(ttlMs * 0.6);
    t.same([...(await a.online(['u1', 'u2']))], ['u1'], 'refreshed u1 is online, u2 expired');
    t.same(await a.sweepExpired(), ['u2']);
  });
}

// ---------- memory ----------

presenceContract({
  name: 'memory presence',
  newGroup() {
    const space = createMemoryPresenceSpace();
    return {
      node: (nodeId, ttlMs = LONG_TTL_MS) => createMemoryPresence({ ttlMs, nodeId, space }),
    };
  },
});

// ---------- Redis ----------

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is not set: run the tests with "npm test", which starts Redis');

presenceContract({
  name: 'redis presence',
  newGroup(t) {
    const keyPrefix = uniquePrefix('presence');
    return {
      node(nodeId, ttlMs = LONG_TTL_MS) {
        const store = createRedisPresence({ redis: redisUrl, keyPrefix, nodeId, ttlMs });
        t.teardown(() => store.close());
        return store;
      },
    };
  },
});

// ---------- Redis Cluster ----------

const clusterUnavailable = redisServerUnavailable();
if (clusterUnavailable) {
  t.skip(`redis presence (Redis Cluster): cannot start a local cluster: ${clusterUnavailable}`, () => {});
} else {
  const cluster = await startRedisCluster({ masters: 3 });
  t.teardown(() => cluster.close());

  presenceContract({
    name: 'redis presence (Redis Cluster)',
    newGroup(t) {
      const keyPrefix = uniquePrefix('cpresence');
      return {
        node(nodeId, ttlMs = LONG_TTL_MS) {
          const store = createRedisPresence({ redis: cluster.url, cluster: true, keyPrefix, nodeId, ttlMs });
          t.teardown(() => store.close());
          return store;
        },
      };
    },
  });

  t.test('redis presence (Redis Cluster): the shards spread presence over every master', async (t) => {
    const keyPrefix = uniquePrefix('spread');
    const store = createRedisPresence({ redis: cluster.url, cluster: true, keyPrefix, nodeId: 'a', ttlMs: LONG_TTL_MS });
    t.teardown(() => store.close());
    const users = range(200).map((i) => `spread${i}`);
    await Promise.all(users.map((userId) => store.connect(userId)));
    t.equal(new Set(users.map(presenceShardOf)).size, PRESENCE_SHARDS, '200 users fall in every shard');

    const client = new Cluster([cluster.url]);
    t.teardown(() => client.quit());
    await client.ping();
    const perMaster = await Promise.all(
      client.nodes('master').map(async (node) => {
        let keys = 0;
        let cursor = '0';
        do {
          const [next, found] = await node.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          keys += found.length;
          cursor = next;
        } while (cursor !== '0');
        return keys;
      }),
    );
    t.comment(`presence keys per master: ${perMaster.join(', ')}`);
    t.equal(
      perMaster.reduce((a, b) => a + b, 0),
      users.length + PRESENCE_SHARDS,
      'one key per user and one index per shard',
    );
    t.ok(
      perMaster.every((keys) => keys > 0),
      'every master holds a share',
    );
  });
}
