import t from 'tap';
import { formatBytes } from '../../src/shared/files.js';
import {
  limitsFor,
  messageLimitReached,
  nextUtcMidnight,
  storageLimitReached,
  storageRoom,
  summarize,
  utcDay,
  type QuotaLimits,
} from '../../src/domain/quotas/quota-policy.js';
import { AppError } from '../../src/model/errors.js';

const limits: QuotaLimits = {
  free: { messagesPerDay: 200, storageBytes: 25 * 1024 * 1024 },
  premium: { messagesPerDay: 10_000, storageBytes: 1024 * 1024 * 1024 },
};

t.test('the daily window is the UTC calendar day, whatever the local time zone', async (t) => {
  t.equal(utcDay(Date.UTC(2026, 10, 22, 0, 0, 0, 0)), '2026-11-22');
  t.equal(utcDay(Date.UTC(2026, 10, 22, 23, 59, 59, 999)), '2026-11-22');
  t.equal(utcDay(Date.UTC(2026, 11, 31, 23, 59, 59, 999)), '2026-12-31');
  t.equal(utcDay(Date.UTC(2027, 0, 1)), '2027-01-01');
});

t.test('the window resets at the next UTC midnight', async (t) => {
  t.equal(nextUtcMidnight(Date.UTC(2026, 10, 22, 13, 5)), Date.UTC(2026, 10, 23));
  t.equal(nextUtcMidnight(Date.UTC(2026, 10, 22)), Date.UTC(2026, 10, 23), 'midnight itself belongs to the day it starts');
  t.equal(nextUtcMidnight(Date.UTC(2026, 11, 31, 23, 59)), Date.UTC(2027, 0, 1));
});

t.test('each tier has its own limits from configuration', async (t) => {
  t.same(limitsFor('free', limits), { messagesPerDay: 200, storageBytes: 25 * 1024 * 1024 });
  t.same(limitsFor('premium', limits), { messagesPerDay: 10_000, storageBytes: 1024 * 1024 * 1024 });
});

t.test('a counter from another day counts as zero in the summary', async (t) => {
  const now = Date.UTC(2026, 10, 22, 8);
  const base = { userId: 'u1', username: 'ann', tier: 'free' as const, messagesToday: 150, storageBytes: 1000 };
  t.same(summarize({ ...base, quotaDay: '2026-11-22' }, limits, now), {
    tier: 'free',
    messagesToday: 150,
    messagesPerDay: 200,
    resetsAt: Date.UTC(2026, 10, 23),
    storageBytes: 1000,
    storageLimitBytes: 25 * 1024 * 1024,
  });
  t.equal(summarize({ ...base, quotaDay: '2026-11-21' }, limits, now).messagesToday, 0, "yesterday's count is gone");
  t.equal(summarize({ ...base, quotaDay: undefined }, limits, now).messagesToday, 0, 'no message ever sent');
  t.equal(summarize({ ...base, tier: 'premium', quotaDay: '2026-11-22' }, limits, now).messagesPerDay, 10_000);
});

t.test('storage room never goes negative after a downgrade', async (t) => {
  const quota = summarize({ userId: 'u', username: 'u', tier: 'free', messagesToday: 0, storageBytes: 30 * 1024 * 1024 }, limits, 0);
  t.equal(storageRoom(quota), 0);
});

t.test('refusals carry the code, the limit, the tier and the reset time', async (t) => {
  const quota = summarize(
    { userId: 'u', username: 'u', tier: 'free', quotaDay: '1970-01-01', messagesToday: 200, storageBytes: 25 * 1024 * 1024 - 10 },
    limits,
    0,
  );
  const messages = messageLimitReached(quota);
  t.ok(messages instanceof AppError);
  t.equal(messages.code, 'quota_exceeded');
  t.equal(messages.statusCode, 429);
  t.same(messages.details, { limit: 200, resetsAt: Date.UTC(1970, 0, 2), tier: 'free' });
  t.match(messages.message, /200 messages a free account/);
  t.match(messages.message, /1970-01-02T00:00:00.000Z/);

  const storage = storageLimitReached(quota, 2048);
  t.equal(storage.code, 'quota_exceeded');
  t.same(storage.details, { limit: 25 * 1024 * 1024, used: 25 * 1024 * 1024 - 10, requested: 2048, tier: 'free' });
  t.match(storage.message, /2 KB/);
});

t.test('sizes read as people write them', async (t) => {
  t.equal(formatBytes(12), '12 bytes');
  t.equal(formatBytes(1536), '1.5 KB');
  t.equal(formatBytes(2 * 1024 * 1024), '2 MB');
  t.equal(formatBytes(1024 * 1024 * 1024), '1 GB');
});
