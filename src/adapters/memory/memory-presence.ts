/**
 * Presence held in this process, for a single instance and for tests. It follows
 * the same rules as `redis-presence.ts` (see there), so the two pass one contract
 * suite. Several stores may share one `MemoryPresenceSpace` to stand for several
 * instances, each with its own `nodeId`.
 *
 * A user is in the space while they are "announced online": from the `connect`
 * that returned true until the `disconnect` or `sweepExpired` that returns them.
 * Records that have expired but not been swept stay until then.
 */
import type { PresenceStore } from '../../domain/presence/ports.js';

/** userId -> nodeId -> expiry (epoch ms). */
export type MemoryPresenceSpace = Map<string, Map<string, number>>;

export function createMemoryPresenceSpace(): MemoryPresenceSpace {
  return new Map();
}

export interface MemoryPresenceOptions {
  /** A record lives this long after the last `connect` or `refresh`. */
  ttlMs: number;
  /** @default Date.now */
  clock?: () => number;
  /** @default 'local' */
  nodeId?: string;
  /** Shared with other stores to stand for other instances. @default a space of its own */
  space?: MemoryPresenceSpace;
}

export function createMemoryPresence(opts: MemoryPresenceOptions): PresenceStore {
  const clock = opts.clock ?? Date.now;
  const nodeId = opts.nodeId ?? 'local';
  const users = opts.space ?? createMemoryPresenceSpace();

  const dropExpired = (records: Map<string, number>, now: number) => {
    for (const [node, expiresAt] of records) if (expiresAt <= now) records.delete(node);
  };

  return {
    async connect(userId) {
      const now = clock();
      const records = users.get(userId);
      if (!records) {
        users.set(userId, new Map([[nodeId, now + opts.ttlMs]]));
        return true;
      }
      dropExpired(records, now);
      records.set(nodeId, now + opts.ttlMs);
      return false;
    },

    async disconnect(userId) {
      const records = users.get(userId);
      if (!records) return false;
      records.delete(nodeId);
      dropExpired(records, clock());
      if (records.size > 0) return false;
      users.delete(userId);
      return true;
    },

    async refresh(userIds) {
      const expiresAt = clock() + opts.ttlMs;
      for (const userId of userIds) {
        // A user swept while this instance still holds their socket comes back, unannounced (as in Redis).
        let records = users.get(userId);
        if (!records) users.set(userId, (records = new Map<string, number>()));
        records.set(nodeId, expiresAt);
      }
    },

    async online(userIds) {
      const now = clock();
      const result = new Set<string>();
      for (const userId of userIds) {
        const records = users.get(userId);
        if (records && [...records.values()].some((expiresAt) => expiresAt > now)) result.add(userId);
      }
      return result;
    },

    async sweepExpired() {
      const now = clock();
      const claimed: string[] = [];
      for (const [userId, records] of users) {
        dropExpired(records, now);
        if (records.size === 0) {
          users.delete(userId);
          claimed.push(userId);
        }
      }
      return claimed;
    },

    async close() {},
  };
}
