/**
 * The quota rules as pure functions: which UTC day a moment belongs to, when the
 * daily window starts again, the limits of a tier, and the summary a client sees.
 * No I/O here; the repository enforces the same limits with conditional writes.
 */
import { AppError, type QuotaSummary, type Tier } from '../../model/index.js';
import { formatBytes } from '../../shared/files.js';

export interface TierLimits {
  readonly messagesPerDay: number;
  readonly storageBytes: number;
}

/** Each tier's limits (from configuration). */
export interface QuotaLimits {
  readonly free: TierLimits;
  readonly premium: TierLimits;
}

/** What the store holds about one user's usage. */
export interface QuotaUsage {
  userId: string;
  username: string;
  tier: Tier;
  /** UTC day ('YYYY-MM-DD') the message counter belongs to; absent before the first message. */
  quotaDay?: string | undefined;
  messagesToday: number;
  storageBytes: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC calendar day of `now` (epoch ms) as 'YYYY-MM-DD': the key of the daily message window. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** Epoch ms of the next UTC midnight after `now`: when the daily window starts again. */
export function nextUtcMidnight(now: number): number {
  return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
}

export function tierOf(isPremium: boolean | undefined): Tier {
  return isPremium ? 'premium' : 'free';
}

export function limitsFor(tier: Tier, limits: QuotaLimits): TierLimits {
  const chosen = tier === 'premium' ? limits.premium : limits.free;
  return { messagesPerDay: chosen.messagesPerDay, storageBytes: chosen.storageBytes };
}

/** Messages counted today: a counter stamped with another day is yesterday's and counts as zero. */
export function messagesCountedOn(usage: Pick<QuotaUsage, 'quotaDay' | 'messagesToday'>, day: string): number {
  return usage.quotaDay === day ? usage.messagesToday : 0;
}

export function summarize(usage: QuotaUsage, limits: QuotaLimits, now: number): QuotaSummary {
  const tierLimits = limitsFor(usage.tier, limits);
  return {
    tier: usage.tier,
    messagesToday: messagesCountedOn(usage, utcDay(now)),
    messagesPerDay: tierLimits.messagesPerDay,
    resetsAt: nextUtcMidnight(now),
    storageBytes: Math.max(0, usage.storageBytes),
    storageLimitBytes: tierLimits.storageBytes,
  };
}

/** Room left for files, in bytes (never negative: a downgrade can leave a user above the limit). */
export function storageRoom(summary: QuotaSummary): number {
  return Math.max(0, summary.storageLimitBytes - summary.storageBytes);
}

/** The refusal of a message over the daily limit: code, limit, tier and when it resets. */
export function messageLimitReached(quota: QuotaSummary): AppError {
  return new AppError(
    'quota_exceeded',
    `You have sent the ${quota.messagesPerDay} messages a ${quota.tier} account may send per day; the limit resets at ${new Date(quota.resetsAt).toISOString()}`,
    { limit: quota.messagesPerDay, resetsAt: quota.resetsAt, tier: quota.tier },
  );
}

/** The refusal of a file that does not fit in what is left of the storage quota. */
export function storageLimitReached(quota: QuotaSummary, bytes: number): AppError {
  return new AppError(
    'quota_exceeded',
    `This file (${formatBytes(bytes)}) does not fit in your storage: ${formatBytes(quota.storageBytes)} of the ${formatBytes(quota.storageLimitBytes)} a ${quota.tier} account may store are in use`,
    { limit: quota.storageLimitBytes, used: quota.storageBytes, requested: bytes, tier: quota.tier },
  );
}
