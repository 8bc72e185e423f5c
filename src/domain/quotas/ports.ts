/**
 * The per-user quota counters as the quota service sees them (the daily message
 * counter is moved by the message log, in the same write as the messages; see
 * `domain/messages/ports.ts`). Implementation:
 * DynamoDB (`adapters/dynamodb/quotas-repository.ts`), on the user's `WebSocketUsers` row.
 *
 * Contract: every method that changes a counter is one conditional write (or a
 * short sequence of them, each conditional), so callers on any number of
 * instances can never push a counter past its limit between them. A refusal
 * reports the usage the store saw when it refused. `undefined` means no such user.
 */
import type { Tier } from '../../model/index.js';
import type { QuotaUsage } from './quota-policy.js';

export interface CountOutcome {
  accepted: boolean;
  usage: QuotaUsage;
}

export interface StorageLimits {
  free: number;
  premium: number;
}

export interface TierChange {
  previous: QuotaUsage;
  current: QuotaUsage;
}

export interface QuotasRepository {
  getUsage(userId: string): Promise<QuotaUsage | undefined>;
  /** Adds `bytes` to stored bytes if the total stays within the tier's limit. */
  reserveStorage(userId: string, bytes: number, limits: StorageLimits): Promise<CountOutcome | undefined>;
  /** Takes `bytes` off stored bytes, never below zero. */
  releaseStorage(userId: string, bytes: number): Promise<QuotaUsage | undefined>;
  findUserIdByUsername(username: string): Promise<string | undefined>;
  setTier(userId: string, tier: Tier): Promise<TierChange | undefined>;
}
