/**
 * The quotas service (storage, tiers, usage) against DynamoDB Local; the daily
 * message counter is moved by the write path (test/integration/message-writer.test.ts). every "instance" here has its own
 * DynamoDB client, repository and service, as separate containers would, and they
 * share one table. Limits are small through configuration so a test stays short.
 */
import t from 'tap';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
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

const NOV_22_NOON = Date.UTC(2026, 10, 22, 12);

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
  const admin = createDynamoClient({ region: 'us-east-1', endpoint });
  t.teardown(() => admin.destroy());
  await ensureTables(admin, tables);
  const users = createUsersRepository(documentsOver(admin), tables.users);
  return {
    tables,
    endpoint,
    instance(options = {}) {
      const raw = createDynamoClient({ region: 'us-east-1', endpoint });
      t.teardown(() => raw.destroy());
      return createQuotasService({
        repository: createQuotasRepository(documentsOver(raw), tables.users),
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

t.test('every change of stored bytes pushes the new usage to the user', async (t) => {
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
  await quotas.reserveStorage(userId, 100);
  await quotas.releaseStorage(userId, 100);
  t.same(
    pushed.map((q) => q.storageBytes),
    [100, 0],
  );
});

t.test('a publisher that fails does not fail the change', async (t) => {
  const d = await deployment(t);
  const quotas = d.instance({ events: { publish: () => Promise.reject(new Error('bus down')) } });
  const { userId, username } = await d.user();
  t.equal((await quotas.reserveStorage(userId, 10)).storageBytes, 10);
  const change = await quotas.setTier(username, 'premium');
  t.equal(change.tier, 'premium');
  t.equal(change.notified, false, 'the tier changed; the caller learns that sockets were not told');
});

t.test('an unknown user id has no quota', async (t) => {
  const d = await deployment(t);
  const quotas = d.instance();
  await t.rejects(quotas.summary('no-such-user'), { code: 'not_found' });
  await t.rejects(quotas.reserveStorage('no-such-user', 10), { code: 'not_found' });
});
