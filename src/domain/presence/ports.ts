/**
 * Who is online, across every instance. Implementations: `redis-presence.ts`
 * (shared by all instances) and `memory-presence.ts` (one process).
 *
 * Contract:
 * - An instance calls `connect` when a user's first socket on it opens and
 *   `disconnect` when the last one closes; the local count lives in the instance.
 * - A user is online while at least one instance holds a record for them that has
 *   not expired. Records expire `ttlMs` after the instance's last `refresh`, so the
 *   users of a crashed instance go offline with nobody cleaning up.
 * - `connect` returns true only for the transition offline -> online, and
 *   `disconnect` true only for online -> offline, each seen by exactly one caller,
 *   so exactly one instance announces each change.
 * - `sweepExpired` claims users whose every record has expired: each such user is
 *   returned to exactly one caller across all instances, which announces them offline.
 */
export interface PresenceStore {
  connect(userId: string): Promise<boolean>;
  disconnect(userId: string): Promise<boolean>;
  /** Extends this instance's records for these users by the ttl. */
  refresh(userIds: readonly string[]): Promise<void>;
  online(userIds: readonly string[]): Promise<Set<string>>;
  sweepExpired(): Promise<string[]>;
  close(): Promise<void>;
}
