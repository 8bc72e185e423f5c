/**
 * Presence shared by every instance through Redis. See `domain/presence/ports.ts` for
 * the contract and `README.md` for the key layout.
 *
 * Users are spread over `PRESENCE_SHARDS` fixed shards (a hash of the user id). Each
 * shard has its own index and every key of a shard carries the shard's hash tag
 * (`{3}`), so all of them live in one slot of a Redis Cluster and each script touches
 * one slot, as a cluster requires; the shards spread presence over the cluster's
 * masters. On a single Redis the shards change nothing but the key names.
 *
 * - `<prefix>presence:{<shard>}:user:<userId>`: sorted set, member = node id, score =
 *   when that node's record expires (epoch ms).
 * - `<prefix>presence:{<shard>}:expiry`: sorted set, member = user id, score = the
 *   latest expiry among the user's records. A user is in it from the `connect` that
 *   announced them online until the `disconnect` or sweep that announces them
 *   offline, so each transition is claimed by whoever adds or removes them here,
 *   inside one script: exactly one caller.
 *
 * Time is Redis's own clock (`TIME` inside each script), not the instances':
 * expiries written by one instance are compared by another, and one clock makes
 * skew between containers irrelevant. Scripts that call `TIME` and then write
 * are replicated by their effects, which Redis does by default since 5.0.
 * `ZADD GT` needs Redis 6.2 or later.
 *
 * Every write also sets the keys to vanish two ttls after it: a record is
 * always younger than one ttl, so this never removes a live one, and keys left
 * by a deployment that is gone (or a test run) clean themselves up. A user whose
 * key vanished while still listed is claimed by the sweep like any other.
 *
 * The sweep builds user keys inside its script from the index's shard: they carry
 * the index's hash tag, so they are in the slot the script runs on, which Redis
 * Cluster allows.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { silentLogger, type Logger } from '../../domain/logger.js';
import { closeConnection, openCommandConnection, watchConnection, type RedisCredentials } from './connection.js';
import type { PresenceStore } from '../../domain/presence/ports.js';

export interface RedisPresenceOptions {
  /** A connection to use (left open by `close`), or a URL to open one (closed by `close`). Not a subscriber connection. */
  redis: Redis | Cluster | string;
  /** With a URL: the URL is any node of a Redis Cluster. @default false */
  cluster?: boolean | undefined;
  /** With a URL: the AUTH token and TLS, when the URL does not say them. */
  credentials?: RedisCredentials | undefined;
  keyPrefix: string;
  /** This instance's id: the member of its records. */
  nodeId: string;
  /** A record lives this long after the last `connect` or `refresh`. */
  ttlMs: number;
  /** Where connection errors go (only for a connection opened from a URL). @default a logger that drops everything */
  logger?: Logger;
}

/** Users per script call in `refresh` and `online`: keeps each call short, since scripts block Redis. */
const BATCH = 500;

/**
 * Fixed: every instance of a deployment must place a user in the same shard, so
 * changing it moves every key (a deploy then starts presence afresh, see README.md).
 * 16 spreads presence over the masters of a small cluster; on one Redis it costs a
 * sweep 16 short script calls instead of one.
 */
export const PRESENCE_SHARDS = 16;

/** The shard of a user: the same on every instance and every run (a hash, not a random choice). */
export function presenceShardOf(userId: string): number {
  return createHash('sha1').update(userId).digest().readUInt32BE(0) % PRESENCE_SHARDS;
}

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: user key, index. ARGV: node id, ttl ms, user id. Returns 1 when the user was offline. */
const CONNECT = `${NOW_MS}
local expiry = now + tonumber(ARGV[2])
local announced = redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], 'GT', expiry, ARGV[3])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[2]))
if announced then return 0 end
return 1
`;

/** KEYS: user key, index. ARGV: node id, user id. Returns 1 when no live record is left. */
const DISCONNECT = `${NOW_MS}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #latest == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[2], latest[2], ARGV[2])
return 0
`;

/**
 * KEYS: index, then one user key per user. ARGV: node id, ttl ms, then the user ids.
 * A user swept while this instance still holds their socket comes back here,
 * unannounced: being online is what is true, and the next connect or disconnect
 * of theirs is announced as usual.
 */
const REFRESH = `${NOW_MS}
local expiry = now + tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[2]))
  redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return #KEYS - 1
`;

/** KEYS: index. ARGV: user ids. Returns those with a live record. */
const ONLINE = `${NOW_MS}
local online = {}
for _, userId in ipairs(ARGV) do
  local latest = redis.call('ZSCORE', KEYS[1], userId)
  if latest and tonumber(latest) > now then online[#online + 1] = userId end
end
return online
`;

/**
 * KEYS: index. ARGV: user key prefix, batch size. Returns the number of users
 * looked at, then the users claimed (every record expired).
 */
const SWEEP = `${NOW_MS}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local result = { #due }
for _, userId in ipairs(due) do
  local key = ARGV[1] .. userId
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local latest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #latest == 0 then
    redis.call('ZREM', KEYS[1], userId)
    result[#result + 1] = userId
  else
    redis.call('ZADD', KEYS[1], latest[2], userId)
  end
end
return result
`;

interface PresenceScripts {
  huddlePresenceConnect(userKey: string, indexKey: string, nodeId: string, ttlMs: number, userId: string): Promise<number>;
  huddlePresenceDisconnect(userKey: string, indexKey: string, nodeId: string, userId: string): Promise<number>;
  huddlePresenceRefresh(numKeys: number, ...keysThenArgs: Array<string | number>): Promise<number>;
  huddlePresenceOnline(indexKey: string, ...userIds: string[]): Promise<string[]>;
  huddlePresenceSweep(indexKey: string, userKeyPrefix: string, batch: number): Promise<[number, ...string[]]>;
}

type ScriptedClient = (Redis | Cluster) & PresenceScripts;

function withScripts(redis: Redis | Cluster): ScriptedClient {
  const scripts: Array<[keyof PresenceScripts, string, number | undefined]> = [
    ['huddlePresenceConnect', CONNECT, 2],
    ['huddlePresenceDisconnect', DISCONNECT, 2],
    ['huddlePresenceRefresh', REFRESH, undefined],
    ['huddlePresenceOnline', ONLINE, 1],
    ['huddlePresenceSweep', SWEEP, 1],
  ];
  for (const [name, lua, numberOfKeys] of scripts) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection when Redis lacks the script.
    if (!(name in redis)) redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  return redis as ScriptedClient;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/** Groups user ids by shard, keeping their order within each. */
function byShard(userIds: readonly string[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const userId of userIds) {
    const shard = presenceShardOf(userId);
    const group = groups.get(shard);
    if (group) group.push(userId);
    else groups.set(shard, [userId]);
  }
  return groups;
}

export function createRedisPresence(opts: RedisPresenceOptions): PresenceStore {
  const owned = typeof opts.redis === 'string';
  let client: Redis | Cluster;
  if (typeof opts.redis === 'string') {
    const target = { url: opts.redis, cluster: opts.cluster ?? false, credentials: opts.credentials };
    client = openCommandConnection(target, `huddle-presence-${opts.nodeId}`);
    watchConnection(client, 'presence', opts.logger ?? silentLogger);
    // Connecting in the background; commands wait in the offline queue meanwhile.
    client.connect().catch(() => {});
  } else {
    client = opts.redis;
  }
  const redis = withScripts(client);
  // The hash tag is the shard alone: the keys of one shard share a slot whatever the prefix.
  const shardKey = (shard: number) => `${opts.keyPrefix}presence:{${shard}}:`;
  const userKeyPrefix = (shard: number) => `${shardKey(shard)}user:`;
  const indexKey = (shard: number) => `${shardKey(shard)}expiry`;
  const userKey = (userId: string) => userKeyPrefix(presenceShardOf(userId)) + userId;
  const shardBatches = (userIds: readonly string[]) =>
    [...byShard(userIds)].flatMap(([shard, users]) => chunks(users, BATCH).map((batch) => ({ shard, batch })));

  return {
    async connect(userId) {
      const shard = presenceShardOf(userId);
      return (await redis.huddlePresenceConnect(userKey(userId), indexKey(shard), opts.nodeId, opts.ttlMs, userId)) === 1;
    },

    async disconnect(userId) {
      const shard = presenceShardOf(userId);
      return (await redis.huddlePresenceDisconnect(userKey(userId), indexKey(shard), opts.nodeId, userId)) === 1;
    },

    async refresh(userIds) {
      // ioredis writes each call without waiting for the previous answer: the batches travel pipelined.
      await Promise.all(
        shardBatches(userIds).map(({ shard, batch }) =>
          redis.huddlePresenceRefresh(1 + batch.length, indexKey(shard), ...batch.map(userKey), opts.nodeId, opts.ttlMs, ...batch),
        ),
      );
    },

    async online(userIds) {
      const answers = await Promise.all(
        shardBatches(userIds).map(({ shard, batch }) => redis.huddlePresenceOnline(indexKey(shard), ...batch)),
      );
      return new Set(answers.flat());
    },

    async sweepExpired() {
      const sweepShard = async (shard: number) => {
        const claimed: string[] = [];
        for (;;) {
          const [lookedAt, ...users] = await redis.huddlePresenceSweep(indexKey(shard), userKeyPrefix(shard), BATCH);
          claimed.push(...users);
          if (lookedAt < BATCH) return claimed;
        }
      };
      const shards = Array.from({ length: PRESENCE_SHARDS }, (_, shard) => shard);
      return (await Promise.all(shards.map(sweepShard))).flat();
    },

    async close() {
      if (owned) await closeConnection(client);
    },
  };
}
