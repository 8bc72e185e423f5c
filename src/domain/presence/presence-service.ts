/**
 * Announces online/offline to the members of a user's chats. The store decides
 * transitions (exactly one instance sees each), this service tells the chats.
 * It also keeps this instance's records fresh and claims users whose instance
 * stopped refreshing (crashed), announcing them offline.
 */
import type { EventPublisher } from '../events/ports.js';
import type { PresenceStore } from './ports.js';

export interface PresenceServiceDeps {
  store: PresenceStore;
  events: EventPublisher;
  chatIdsOf: (userId: string) => Promise<string[]>;
  ttlMs: number;
  onError: (err: unknown, what: string) => void;
}

export interface PresenceService {
  userConnected(userId: string, chatIds: readonly string[]): Promise<void>;
  userDisconnected(userId: string, chatIds: readonly string[]): Promise<void>;
  onlineAmong(userIds: readonly string[]): Promise<Set<string>>;
  /** Starts refreshing `localUsers()` and sweeping expired users; returns a stop function. */
  start(localUsers: () => string[]): () => void;
}

export function createPresenceService(deps: PresenceServiceDeps): PresenceService {
  const { store, events } = deps;
  /**
   * Users whose `connect` has completed here. Only they are refreshed: a socket is local
   * from the moment it registers, before its `connect` runs, and a refresh in between
   * would put the user online unannounced, so that `connect` would see no transition and
   * nobody would hear that they came online.
   */
  const connected = new Set<string>();

  async function announce(userId: string, online: boolean, chatIds: readonly string[]) {
    if (chatIds.length > 0) await events.publish({ type: 'presence.changed', userId, online, chatIds });
  }

  return {
    async userConnected(userId, chatIds) {
      const cameOnline = await store.connect(userId);
      connected.add(userId);
      if (cameOnline) await announce(userId, true, chatIds);
    },

    async userDisconnected(userId, chatIds) {
      connected.delete(userId);
      if (await store.disconnect(userId)) await announce(userId, false, chatIds);
    },

    onlineAmong: (userIds) => store.online(userIds),

    start(localUsers) {
      // Refresh well inside the ttl so one late tick does not take anyone offline.
      const refresh = setInterval(
        () => {
          const local = new Set(localUsers());
          // A user whose last socket closed while their connect was still running is not kept.
          for (const userId of connected) if (!local.has(userId)) connected.delete(userId);
          const users = [...connected];
          if (users.length > 0) store.refresh(users).catch((err) => deps.onError(err, 'refresh presence'));
        },
        Math.max(50, Math.floor(deps.ttlMs / 3)),
      );
      const sweep = setInterval(
        () => {
          store
            .sweepExpired()
            .then((expired) => Promise.all(expired.map(async (userId) => announce(userId, false, await deps.chatIdsOf(userId)))))
            .catch((err) => deps.onError(err, 'sweep presence'));
        },
        Math.max(50, Math.floor(deps.ttlMs / 4)),
      );
      refresh.unref();
      sweep.unref();
      return () => {
        clearInterval(refresh);
        clearInterval(sweep);
      };
    },
  };
}
