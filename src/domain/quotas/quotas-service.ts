/**
 * Free and premium quotas: messages per UTC day and bytes of files stored.
 *
 * Limits are enforced by the repository with conditional writes (see
 * ports.ts), never by reading and then writing here, so any number of
 * instances serving one user at once cannot pass a limit between them. The daily
 * window needs no job: a counter stamped with an earlier day counts as zero and the
 * next message starts it again at 1.
 *
 * After every change the new summary is published as a `quota.changed` event (the
 * user's sockets get a `quota` frame). That push is best effort and never fails or
 * delays the change itself, except in `setTier`, which waits for it so that a
 * command-line caller can say whether open sockets heard.
 */
import { notFound, type QuotaSummary, type Tier } from '../../model/index.js';
import type { EventPublisher } from '../events/ports.js';
import type { QuotasRepository } from './ports.js';
import { storageLimitReached, summarize, type QuotaLimits, type QuotaUsage } from './quota-policy.js';

export interface TierChangeResult {
  userId: string;
  username: string;
  previousTier: Tier;
  tier: Tier;
  quota: QuotaSummary;
  /** Whether the `quota` frame reached the bus (false: no publisher, or publishing failed). */
  notified: boolean;
}

export interface QuotasService {
  summary(userId: string): Promise<QuotaSummary>;
  /** The summary of usage already read (with the user's row, at connect). */
  summaryOf(usage: QuotaUsage): QuotaSummary;
  /** Reserves `bytes` of storage atomically within the tier's limit, or throws quota_exceeded. */
  reserveStorage(userId: string, bytes: number): Promise<QuotaSummary>;
  releaseStorage(userId: string, bytes: number): Promise<void>;
  /** Sets a user's tier by username; throws not_found for an unknown username. */
  setTier(username: string, tier: Tier): Promise<TierChangeResult>;
}

export interface QuotasServiceDeps {
  repository: QuotasRepository;
  limits: QuotaLimits;
  /** Epoch milliseconds. */
  clock: () => number;
  /** Where `quota.changed` goes (to the user's sockets); absent for a caller with no one to tell. */
  events?: EventPublisher;
}

const noSuchUser = () => notFound('No such user');

export function createQuotasService(deps: QuotasServiceDeps): QuotasService {
  const { repository, limits, clock } = deps;

  const summaryOf = (usage: QuotaUsage) => summarize(usage, limits, clock());

  async function publish(userId: string, quota: QuotaSummary): Promise<boolean> {
    if (!deps.events) return false;
    try {
      await deps.events.publish({ type: 'quota.changed', userId, quota });
      return true;
    } catch {
      // The counters are right whatever happens here; the next change or `hello` carries the news.
      return false;
    }
  }

  function publishLater(usage: QuotaUsage | undefined): void {
    if (usage) void publish(usage.userId, summaryOf(usage));
  }

  return {
    summaryOf,

    async summary(userId) {
      const usage = await repository.getUsage(userId);
      if (!usage) throw noSuchUser();
      return summaryOf(usage);
    },

    async reserveStorage(userId, bytes) {
      const outcome = await repository.reserveStorage(userId, bytes, {
        free: limits.free.storageBytes,
        premium: limits.premium.storageBytes,
      });
      if (!outcome) throw noSuchUser();
      const quota = summaryOf(outcome.usage);
      if (!outcome.accepted) throw storageLimitReached(quota, bytes);
      void publish(userId, quota);
      return quota;
    },

    async releaseStorage(userId, bytes) {
      if (bytes <= 0) return;
      publishLater(await repository.releaseStorage(userId, bytes));
    },

    async setTier(username, tier) {
      // Usernames are stored lower case; an operator may type them otherwise.
      const name = username.trim();
      const userId = (await repository.findUserIdByUsername(name)) ?? (await repository.findUserIdByUsername(name.toLowerCase()));
      const change = userId ? await repository.setTier(userId, tier) : undefined;
      if (!change) throw notFound(`No user named "${username}"`);
      const quota = summaryOf(change.current);
      const notified = await publish(change.current.userId, quota);
      return {
        userId: change.current.userId,
        username: change.current.username,
        previousTier: change.previous.tier,
        tier: change.current.tier,
        quota,
        notified,
      };
    },
  };
}
