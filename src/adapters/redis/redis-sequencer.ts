/**
 * Seqs shared by every instance: one counter per chat in Redis,
 * `<prefix>seq:<chatId>`, holding the last seq handed out. One key per script
 * call, so it works on a Redis Cluster too.
 *
 * When Redis loses the counters (a restart without persistence, a failover to a
 * replica that had not caught up), `allocate` reports the chat unknown or hands
 * out seqs again; the message log's condition on each message key refuses a seq
 * already stored, and the writer then seeds the counter past the highest stored
 * seq (see `Sequencer` in domain/messages/ports.ts). Counters expire after 30 days
 * of silence and are seeded again from DynamoDB on the next message.
 */
import type { Cluster, Redis } from 'ioredis';
import type { Sequencer } from '../../domain/messages/ports.js';

const COUNTER_TTL_MS = 30 * 24 * 3600 * 1000;

/** KEYS: counter. ARGV: count, ttl ms. Returns the first seq of the range, or false when the counter is unknown. */
const ALLOCATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local last = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return last - tonumber(ARGV[1]) + 1
`;

/** KEYS: counter. ARGV: at least, ttl ms. Raises the counter (never lowers it). */
const SEED = `
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
`;

/** KEYS: counter. ARGV: last seq given out, count. Takes the range back only if it is still the newest. */
const RELEASE = `
if tonumber(redis.call('GET', KEYS[1]) or '-1') == tonumber(ARGV[1]) then
  return redis.call('DECRBY', KEYS[1], ARGV[2])
end
return false
`;

interface SequencerScripts {
  huddleSeqAllocate(key: string, count: number, ttlMs: number): Promise<number | null>;
  huddleSeqSeed(key: string, atLeast: number, ttlMs: number): Promise<number>;
  huddleSeqRelease(key: string, last: number, count: number): Promise<number | null>;
}

type Client = (Redis | Cluster) & SequencerScripts;

function withScripts(redis: Redis | Cluster): Client {
  const scripts: [keyof SequencerScripts, string][] = [
    ['huddleSeqAllocate', ALLOCATE],
    ['huddleSeqSeed', SEED],
    ['huddleSeqRelease', RELEASE],
  ];
  for (const [name, lua] of scripts) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection when Redis lacks the script.
    if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys: 1 });
  }
  return redis as Client;
}

/** `redis` is a command connection (not a subscriber); the caller owns and closes it. */
export function createRedisSequencer(redis: Redis | Cluster, keyPrefix: string): Sequencer {
  const client = withScripts(redis);
  const key = (chatId: string) => `${keyPrefix}seq:${chatId}`;

  return {
    async allocate(requests) {
      // ioredis writes each call without waiting for the previous answer: one round trip for the batch.
      const firsts = await Promise.all(requests.map((r) => client.huddleSeqAllocate(key(r.chatId), r.count, COUNTER_TTL_MS)));
      return new Map(requests.map((r, i) => [r.chatId, firsts[i] === null ? undefined : Number(firsts[i])]));
    },

    async seed(chatId, atLeast) {
      await client.huddleSeqSeed(key(chatId), atLeast, COUNTER_TTL_MS);
    },

    async release(chatId, last, count) {
      await client.huddleSeqRelease(key(chatId), last, count);
    },

    async current(chatIds) {
      const values = await Promise.all(chatIds.map((chatId) => client.get(key(chatId))));
      return new Map(chatIds.map((chatId, i) => [chatId, values[i] === null ? undefined : Number(values[i])]));
    },
  };
}
