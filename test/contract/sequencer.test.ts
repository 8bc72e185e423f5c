/**
 * One contract suite (`sequencerContract`) run against every Sequencer: the memory
 * one, the Redis one on a single Redis, and the Redis one on a local three-master
 * Redis Cluster, where one commit's chats live on different masters.
 * Each test gets fresh chats (and, on Redis, a fresh key prefix).
 */
import t from 'tap';
import type { Sequencer } from '../../src/domain/messages/ports.js';
import { createMemorySequencer } from '../../src/adapters/memory/memory-sequencer.js';
import { createRedisSequencer } from '../../src/adapters/redis/redis-sequencer.js';
import { closeConnection, openCommandConnection } from '../../src/adapters/redis/connection.js';
import { redisServerUnavailable, startRedisCluster, uniquePrefix } from '../helpers/redis-server.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface SequencerHarness {
  name: string;
  newSequencer(t: Tap): Promise<Sequencer>;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The connection compose.ts gives the sequencer: no offline queue, auto-pipelined (one write per master on a cluster). */
async function sequencerConnection(t: Tap, url: string, cluster: boolean) {
  const redis = openCommandConnection({ url, cluster }, 'huddle-seq-test', { enableOfflineQueue: false, enableAutoPipelining: true });
  t.teardown(() => closeConnection(redis));
  await redis.connect();
  return redis;
}

function sequencerContract(harness: SequencerHarness) {
  const name = (what: string) => `${harness.name}: ${what}`;

  t.test(name('an unknown chat must be seeded; then seqs follow the seed, without gaps'), async (t) => {
    const seq = await harness.newSequencer(t);
    t.same([...(await seq.allocate([{ chatId: 'c1', count: 1 }]))], [['c1', undefined]], 'unknown until seeded');
    await seq.seed('c1', 41);
    t.same([...(await seq.allocate([{ chatId: 'c1', count: 3 }]))], [['c1', 42]], 'the first of 42..44');
    t.same([...(await seq.allocate([{ chatId: 'c1', count: 1 }]))], [['c1', 45]]);
    await seq.seed('c1', 10);
    t.same(
      [...(await seq.current(['c1', 'c2']))],
      [
        ['c1', 45],
        ['c2', undefined],
      ],
      'a lower seed never moves the counter back',
    );
  });

  t.test(name('one allocate for many chats answers each, and concurrent callers never share a seq'), async (t) => {
    const seq = await harness.newSequencer(t);
    const chats = range(40).map((i) => `chat${i}`);
    await Promise.all(chats.map((chatId) => seq.seed(chatId, 0)));
    const rounds = await Promise.all(range(10).map(() => seq.allocate(chats.map((chatId) => ({ chatId, count: 2 })))));
    for (const chatId of chats) {
      const firsts = rounds.map((round) => round.get(chatId)!).sort((a, b) => a - b);
      if (firsts.some((first, i) => first !== 1 + 2 * i)) t.fail(`${chatId}: ranges ${firsts.join(',')} overlap or leave gaps`);
    }
    t.pass('10 concurrent allocates of 2 over 40 chats: every chat handed out 1..20 once');
    const current = await seq.current(chats);
    t.ok(
      chats.every((chatId) => current.get(chatId) === 20),
      'current is 20 for every chat',
    );
  });

  t.test(name('release gives seqs back only while nobody got a later one'), async (t) => {
    const seq = await harness.newSequencer(t);
    await seq.seed('c1', 0);
    await seq.allocate([{ chatId: 'c1', count: 3 }]);
    await seq.release('c1', 3, 3);
    t.same([...(await seq.allocate([{ chatId: 'c1', count: 1 }]))], [['c1', 1]], 'the released range is handed out again');
    await seq.allocate([{ chatId: 'c1', count: 1 }]);
    await seq.release('c1', 1, 1);
    t.same([...(await seq.current(['c1']))], [['c1', 2]], 'not released: seq 2 was handed out after it');
  });
}

sequencerContract({ name: 'memory sequencer', newSequencer: async () => createMemorySequencer() });

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is not set: run the tests with "npm test", which starts Redis');

sequencerContract({
  name: 'redis sequencer',
  async newSequencer(t) {
    return createRedisSequencer(await sequencerConnection(t, redisUrl, false), uniquePrefix('seq'));
  },
});

const clusterUnavailable = redisServerUnavailable();
if (clusterUnavailable) {
  t.skip(`redis sequencer (Redis Cluster): cannot start a local cluster: ${clusterUnavailable}`, () => {});
} else {
  const cluster = await startRedisCluster({ masters: 3 });
  t.teardown(() => cluster.close());
  sequencerContract({
    name: 'redis sequencer (Redis Cluster)',
    async newSequencer(t) {
      return createRedisSequencer(await sequencerConnection(t, cluster.url, true), uniquePrefix('cseq'));
    },
  });
}
