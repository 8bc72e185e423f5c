/**
 * The quotas service against DynamoDB Local: every "instance" here has its own
 * DynamoDB client, repository and service, as separate containers would, and they
 * share one table. Limits are small through configuration so a test stays short.
 */
import t from 'tap';
import { createDynamoClients } from '../../src/adapters/dynamodb/client.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames, type TableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import { createQuotasRepository } from '../../src/adapters/dynamodb/quotas-repository.js';
import { createQuotasService, type QuotasService } from '../../src/domain/quotas/quotas-service.js';
import type { QuotaLimits } from '../../src/domain/quotas/quota-policy.js';
import type { ServerFrame } from '../../src/transport/realtime/protocol.js';
import { createRedisBus } from '../../src/adapters/redis/redis-bus.js';
import { silentLogger } from '../../src/domain/logger.js';
import { userChannel, type BusDelivery } from '../../src/domain/fanout/ports.js';
import type { QuotaSummary } from '../../src/model/index.js';
import type { EventPublisher } from '../../src/domain/events/ports.js';
import { createBusEventPublisher } from '../../src/transport/realtime/event-frames.js';
import { AppError } from '../../src/model/errors.js';
import { requireEnv, uniqueId, type Teardown } from '../helpers/test-stack.js';

const limits: QuotaLimits = {
  free: { messagesPerDay: 20, storageBytes: 20 * 1024 },
  premium: { messagesPerDay: 40, storageBytes: 100 * 1024 },
};

const DAY_MS = 24 * 60 * 60 * 1000;
const NOV_22_NOON = Date.UTC(2026, 10, 22, 12);

/** A clock the test moves by hand, shared by every instance of one test. */
function fixedClock(start: number) {
  let now = start;
  return { now: () => now, set: (value: number) => (now = value) };
}

interface Deployment {
  tables: TableNames;
  endpoint: string;
  /** One more instance: its own DynamoDB client, repository and service. */
  instance(options?: { clock?: () => number; events?: EventPublisher }): QuotasService;
  /** A signed-in user: the row sign-in creates. */
  user(username?: string): Promise<{ userId: string; username: string }>;
}

async function deployment(t: Teardown): Promise<Deployment> {
  const endpoint = requireEnv('DYNAMODB_ENDPOINT');
  const tables = tableNames(`${uniqueId('quota')}-`);
  const admin = createDynamoClients({ region: 'us-east-1', endpoint });
  t.teardown(() => admin.raw.destroy());
  await ensureTables(admin.raw, tables);
  const users = createUsersRepository(admin.doc, tables.users);
  return {
    tables,
    endpoint,
    instance(options = {}) {
      const { raw, doc } = createDynamoClients({ region: 'us-east-1', endpoint });
      t.teardown(() => raw.destroy());
      return createQuotasService({
        repository: createQuotasRepository(doc, tables.users),
        limits,
        clock: options.clock ?? (() => NOV_22_NOON),
        ...(options.events ? { events: options.events } : {}),
      });
    },
    async user(username = uniqueId('user')) {
      const userId = uniqueId('sub');
      await users.upsertOnSignIn({ userId, username }, Date.now());
      return { userId, username };
    },
  };
}

function isQuotaExceeded(err: unknown): err is AppError {
  return err instanceof AppError && err.code === 'quota_exceeded';
}

/** Runs every call at once; sorts outcomes into accepted summaries and refusals (anything else fails the test). */
async function settleAll<T>(calls: (() => Promise<T>)[]) {
  const results = await Promise.allSettled(calls.map((call) => call()));
  const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return { accepted, refused };
}

t.test('50 concurrent messages through two instances with 10 left: exactly 10 pass', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const b = d.instance();
  const { userId } = await d.user();
  for (let i = 0; i < 10; i++) await a.consumeMessage(userId);

  const calls = Array.from({ length: 50 }, (_, i) => () => (i % 2 === 0 ? a : b).consumeMessage(userId));
  const { accepted, refused } = await settleAll(calls);

  t.equal(accepted.length, 10, 'exactly the 10 remaining messages are accepted');
  t.equal(refused.length, 40);
  t.ok(refused.every(isQuotaExceeded), 'every refusal is quota_exceeded');
  t.same(
    (refused[0] as AppError).details,
    { limit: 20, resetsAt: Date.UTC(2026, 10, 23), tier: 'free' },
    'the refusal says the limit, when it resets, and the tier',
  );
  t.same(
    accepted.map((q) => q.messagesToday).sort((x, y) => x - y),
    Array.from({ length: 10 }, (_, i) => 11 + i),
    'each accepted message got its own count, 11 to 20',
  );
  t.equal((await b.summary(userId)).messagesToday, 20, 'the stored counter ends at the limit');
});

t.test('50 concurrent first messages of a new day through two instances: exactly the limit passes', async (t) => {
  const d = await deployment(t);
  const clock = fixedClock(NOV_22_NOON);
  const a = d.instance({ clock: clock.now });
  const b = d.instance({ clock: clock.now });
  const { userId } = await d.user();
  for (let i = 0; i < 20; i++) await a.consumeMessage(userId);
  await t.rejects(b.consumeMessage(userId), { code: 'quota_exceeded' }, 'the day is used up');

  clock.set(NOV_22_NOON + DAY_MS);
  const calls = Array.from({ length: 50 }, (_, i) => () => (i % 2 === 0 ? a : b).consumeMessage(userId));
  const { accepted, refused } = await settleAll(calls);
  t.equal(accepted.length, 20, 'the new day starts from zero, and the race to start it loses no limit');
  t.ok(refused.length === 30 && refused.every(isQuotaExceeded));
  t.equal((await a.summary(userId)).messagesToday, 20);
});

t.test("the day window resets by itself: yesterday's messages do not count", async (t) => {
  const d = await deployment(t);
  const clock = fixedClock(Date.UTC(2026, 10, 22, 23, 59, 59));
  const quotas = d.instance({ clock: clock.now });
  const { userId } = await d.user();
  for (let i = 0; i < 20; i++) await quotas.consumeMessage(userId);
  const refusal = await quotas.consumeMessage(userId).catch((err: unknown) => err);
  t.ok(isQuotaExceeded(refusal));
  t.equal((refusal as AppError).details?.resetsAt, Date.UTC(2026, 10, 23), 'it resets at the next UTC midnight');

  clock.set(Date.UTC(2026, 10, 23, 0, 0, 1));
  const before = await quotas.summary(userId);
  t.equal(before.messagesToday, 0, 'after midnight the summary shows a fresh day before anything is sent');
  t.equal(before.resetsAt, Date.UTC(2026, 10, 24));
  const after = await quotas.consumeMessage(userId);
  t.equal(after.messagesToday, 1, 'the first message of the new day counts as 1');
});

t.test('premium raises the limit at once, on every instance; going back to free lowers it', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const b = d.instance();
  const { userId, username } = await d.user();
  for (let i = 0; i < 20; i++) await a.consumeMessage(userId);
  await t.rejects(a.consumeMessage(userId), { code: 'quota_exceeded', details: { tier: 'free', limit: 20 } });

  const change = await b.setTier(username, 'premium');
  t.match(change, {
    userId,
    username,
    previousTier: 'free',
    tier: 'premium',
    quota: { tier: 'premium', messagesToday: 20, messagesPerDay: 40 },
  });
  const next = await a.consumeMessage(userId);
  t.match(next, { tier: 'premium', messagesToday: 21, messagesPerDay: 40 }, 'the other instance sees premium on the very next message');

  await b.setTier(username, 'free');
  await t.rejects(
    a.consumeMessage(userId),
    { code: 'quota_exceeded', details: { tier: 'free', limit: 20 } },
    'a free user over the free limit is refused',
  );
});

t.test('a refund gives one message back; refunds never go below zero or into another day', async (t) => {
  const d = await deployment(t);
  const clock = fixedClock(NOV_22_NOON);
  const quotas = d.instance({ clock: clock.now });
  const { userId } = await d.user();
  await quotas.refundMessage(userId);
  t.equal((await quotas.summary(userId)).messagesToday, 0, 'nothing to give back before the first message');
  for (let i = 0; i < 20; i++) await quotas.consumeMessage(userId);
  await quotas.refundMessage(userId);
  t.equal((await quotas.consumeMessage(userId)).messagesToday, 20, 'the refunded message can be sent again');
  clock.set(NOV_22_NOON + DAY_MS);
  await quotas.refundMessage(userId);
  t.equal((await quotas.consumeMessage(userId)).messagesToday, 1, "a refund after midnight does not touch the new day's count");
});

t.test('storage: 50 concurrent 1 KB reservations through two instances against 20 KB: exactly 20 pass', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const b = d.instance();
  const { userId } = await d.user();
  const calls = Array.from({ length: 50 }, (_, i) => () => (i % 2 === 0 ? a : b).reserveStorage(userId, 1024));
  const { accepted, refused } = await settleAll(calls);
  t.equal(accepted.length, 20);
  t.ok(refused.length === 30 && refused.every(isQuotaExceeded));
  t.match((refused[0] as AppError).details, { limit: 20 * 1024, used: 20 * 1024, requested: 1024, tier: 'free' });
  t.equal((await a.summary(userId)).storageBytes, 20 * 1024);

  await b.releaseStorage(userId, 4 * 1024);
  t.equal((await a.summary(userId)).storageBytes, 16 * 1024, 'released bytes are free again');
  await t.resolves(a.reserveStorage(userId, 4 * 1024), 'and can be used again');
  await t.rejects(a.reserveStorage(userId, 1), { code: 'quota_exceeded' });
});

t.test('storage: a file bigger than the whole limit is refused; release never goes below zero', async (t) => {
  const d = await deployment(t);
  const quotas = d.instance();
  const { userId, username } = await d.user();
  await t.rejects(quotas.reserveStorage(userId, 21 * 1024), { code: 'quota_exceeded', details: { limit: 20 * 1024, used: 0 } });
  await quotas.setTier(username, 'premium');
  t.equal((await quotas.reserveStorage(userId, 21 * 1024)).storageBytes, 21 * 1024, 'premium has room for it');
  await quotas.releaseStorage(userId, 50 * 1024);
  t.equal((await quotas.summary(userId)).storageBytes, 0);
});

t.test('setTier pushes a quota frame to the user channel through Redis, and refuses an unknown name', async (t) => {
  const d = await deployment(t);
  const redisUrl = requireEnv('REDIS_URL');
  const keyPrefix = `${uniqueId('quota')}:`;
  const listening = await createRedisBus<ServerFrame>({ url: redisUrl, keyPrefix, logger: silentLogger });
  t.teardown(() => listening.close());
  const publishing = await createRedisBus<ServerFrame>({ url: redisUrl, keyPrefix, logger: silentLogger });
  t.teardown(() => publishing.close());

  const quotas = d.instance({ events: createBusEventPublisher(publishing) });
  const { userId, username } = await d.user();
  await listening.subscribe(userChannel(userId));
  const frames: BusDelivery[] = [];
  const arrived = new Promise<void>((resolve) =>
    listening.onDelivery((delivery) => {
      frames.push(delivery);
      resolve();
    }),
  );

  const change = await quotas.setTier(username, 'premium');
  t.equal(change.notified, true, 'the service says the frame went out');
  await arrived;
  t.same(frames[0]?.channel, userChannel(userId));
  t.same(frames[0]?.frame, { type: 'quota', quota: change.quota });
  t.match(frames[0]?.frame, { quota: { tier: 'premium', messagesPerDay: 40, storageLimitBytes: 100 * 1024 } });

  await t.rejects(quotas.setTier(uniqueId('nobody'), 'premium'), { code: 'not_found', message: /No user named/ });
});

t.test('every counted message pushes the new usage to the user', async (t) => {
  const d = await deployment(t);
  const pushed: QuotaSummary[] = [];
  const quotas = d.instance({
    events: {
      async publish(event) {
        if (event.type === 'quota.changed') pushed.push(event.quota);
      },
    },
  });
  const { userId } = await d.user();
  await quotas.consumeMessage(userId);
  await quotas.reserveStorage(userId, 100);
  await quotas.releaseStorage(userId, 100);
  t.same(
    pushed.map((q) => [q.messagesToday, q.storageBytes]),
    [
      [1, 0],
      [1, 100],
      [1, 0],
    ],
  );
});

t.test('a publisher that fails does not fail the change', async (t) => {
  const d = await deployment(t);
  const quotas = d.instance({ events: { publish: () => Promise.reject(new Error('bus down')) } });
  const { userId, username } = await d.user();
  t.equal((await quotas.consumeMessage(userId)).messagesToday, 1);
  const change = await quotas.setTier(username, 'premium');
  t.equal(change.tier, 'premium');
  t.equal(change.notified, false, 'the tier changed; the caller learns that sockets were not told');
});

t.test('an unknown user id has no quota', async (t) => {
  const d = await deployment(t);
  const quotas = d.instance();
  await t.rejects(quotas.summary('no-such-user'), { code: 'not_found' });
  await t.rejects(quotas.consumeMessage('no-such-user'), { code: 'not_found' });
  await t.rejects(quotas.reserveStorage('no-such-user', 10), { code: 'not_found' });
});
