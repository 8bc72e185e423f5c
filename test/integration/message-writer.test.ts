/**
 * The group-commit write path against DynamoDB Local and Redis: each "instance"
 * is a writer with its own DynamoDB client and its own Redis connection, sharing
 * the tables and the sequencer's keys, as separate containers would. Limits are
 * small through configuration so a test stays short. Where a failure must be made
 * to happen (a timeout after the write applied, a store that stays away), the real
 * message log is wrapped: the write itself still goes to DynamoDB Local.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import { createChatsRepository } from '../../src/adapters/dynamodb/chats-repository.js';
import { createMessageLog } from '../../src/adapters/dynamodb/message-log.js';
import { createQuotasRepository } from '../../src/adapters/dynamodb/quotas-repository.js';
import { createRedisSequencer } from '../../src/adapters/redis/redis-sequencer.js';
import { createMessageWriter, type WriteResult, type WriterSettings } from '../../src/domain/messages/message-writer.js';
import { createChatActivityRecorder } from '../../src/domain/messages/chat-activity.js';
import { RetryableStoreError, type MessageLog } from '../../src/domain/messages/ports.js';
import type { QuotaLimits } from '../../src/domain/quotas/quota-policy.js';
import { newGroupChatId, type Chat } from '../../src/domain/chats/chat-rules.js';
import { silentLogger } from '../../src/domain/logger.js';
import { AppError, type Actor } from '../../src/model/index.js';
import { requireEnv, uniqueId, type Teardown } from '../helpers/test-stack.js';

const limits: QuotaLimits = {
  free: { messagesPerDay: 20, storageBytes: 20 * 1024 },
  premium: { messagesPerDay: 40, storageBytes: 100 * 1024 },
};
const DAY_MS = 24 * 60 * 60 * 1000;
const NOV_22_NOON = Date.UTC(2026, 10, 22, 12);
const defaults: WriterSettings = { concurrency: 4, maxQueued: 1000, maxQueueWaitMs: 5000, commitDeadlineMs: 3000 };

function fixedClock(start: number) {
  let now = start;
  return { now: () => now, set: (value: number) => (now = value) };
}

interface InstanceOptions {
  clock?: () => number;
  settings?: Partial<WriterSettings>;
  /** Wraps the real message log (to make a failure happen around a real write). */
  wrapLog?: (log: MessageLog) => MessageLog;
}

async function deployment(t: Teardown) {
  const endpoint = requireEnv('DYNAMODB_ENDPOINT');
  const redisUrl = requireEnv('REDIS_URL');
  const tables = tableNames(`${uniqueId('write')}-`);
  const keyPrefix = `${uniqueId('write')}:`;
  const admin = createDynamoClient({ region: 'us-east-1', endpoint });
  t.teardown(() => admin.destroy());
  await ensureTables(admin, tables);
  const db = documentsOver(admin);
  const users = createUsersRepository(db, tables.users);
  const chats = createChatsRepository(db, tables);
  const log = createMessageLog(db, tables);
  const quotas = createQuotasRepository(db, tables.users);
  const redis = new Redis(redisUrl);
  t.teardown(() => redis.quit());
  const counterKey = (chatId: string) => `${keyPrefix}seq:${chatId}`;

  return {
    log,
    chats,
    quotas,
    redis,
    counterKey,

    /** One more instance: its own DynamoDB client, Redis connection and writer. */
    instance(options: InstanceOptions = {}) {
      const client = createDynamoClient({ region: 'us-east-1', endpoint });
      t.teardown(() => client.destroy());
      const connection = new Redis(redisUrl);
      t.teardown(() => connection.quit());
      const own = documentsOver(client);
      const ownLog = createMessageLog(own, tables);
      const ownChats = createChatsRepository(own, tables);
      const activity = createChatActivityRecorder({ chats: ownChats, intervalMs: 50, clock: Date.now, logger: silentLogger });
      const writer = createMessageWriter({
        log: options.wrapLog ? options.wrapLog(ownLog) : ownLog,
        sequencer: createRedisSequencer(connection, keyPrefix),
        seqFloor: async (chatId) => Math.max(await ownLog.highestSeq(chatId), (await ownChats.get(chatId))?.lastSeq ?? 0),
        limits,
        settings: { ...defaults, ...options.settings },
        clock: options.clock ?? (() => NOV_22_NOON),
        logger: silentLogger,
        onCommitted: (stored) => activity.record(stored),
      });
      t.teardown(async () => {
        await writer.close();
        await activity.flush();
      });
      return { writer, activity };
    },

    async user(label = 'user'): Promise<Actor> {
      const actor = { userId: uniqueId('sub'), username: uniqueId(label).toLowerCase() };
      await users.upsertOnSignIn(actor, Date.now());
      return actor;
    },

    async group(members: Actor[]): Promise<string> {
      const chat: Chat = {
        chatId: newGroupChatId(),
        kind: 'group',
        title: 'test',
        createdBy: members[0]!.userId,
        createdAt: Date.now(),
        members: Object.fromEntries(members.map((m) => [m.userId, m.username])),
        lastSeq: 0,
        readSeq: {},
        updatedAt: Date.now(),
      };
      await chats.create(chat);
      return chat.chatId;
    },
  };
}

let counter = 0;
const text = (sender: Actor, chatId: string, clientMsgId = `m${++counter}`) => ({
  sender,
  chatId,
  clientMsgId,
  text: `hello ${clientMsgId}`,
});

async function settleAll(writes: Promise<WriteResult>[]) {
  const results = await Promise.allSettled(writes);
  const stored = results.flatMap((r) => (r.status === 'fulfilled' && r.value.status === 'stored' ? [r.value] : []));
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return { stored, refused, results };
}

const isCode = (code: string) => (err: unknown) => err instanceof AppError && err.code === code;

t.test('an idle instance stores a send at once, in a commit of its own', async (t) => {
  const d = await deployment(t);
  const { writer } = d.instance();
  const alice = await d.user('alice');
  const chatId = await d.group([alice]);
  const result = await writer.write(text(alice, chatId));
  t.equal(result.status, 'stored');
  t.match(writer.stats(), { commits: 1, messages: 1 });
  const page = await d.log.page(chatId, undefined, 10);
  t.same(
    page.messages.map((m) => m.seq),
    [1],
  );
});

t.test(
  'sends that arrive together are stored together: far fewer commits than messages, every seq once, each sender in order',
  async (t) => {
    const d = await deployment(t);
    const { writer } = d.instance({ settings: { concurrency: 1 } });
    const senders = await Promise.all(Array.from({ length: 10 }, (_, i) => d.user(`s${i}`)));
    const chatIds = await Promise.all([d.group(senders.slice(0, 5)), d.group(senders.slice(5))]);
    const writes = senders.flatMap((sender, i) =>
      Array.from({ length: 10 }, (_, n) => writer.write(text(sender, chatIds[i < 5 ? 0 : 1], `${sender.userId}-${n}`))),
    );
    const { stored, refused } = await settleAll(writes);
    t.equal(stored.length, 100, 'all 100 are stored');
    t.same(refused, []);
    const { commits } = writer.stats();
    t.ok(commits <= 20, `100 messages in ${commits} commits`);
    for (const chatId of chatIds) {
      const { messages } = await d.log.page(chatId, undefined, 100);
      t.same(
        messages.map((m) => m.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
        'the chat holds seqs 1 to 50, each once',
      );
      for (const sender of senders) {
        const own = messages.filter((m) => m.senderId === sender.userId).map((m) => m.clientMsgId);
        t.same(
          own,
          [...own].sort((x, y) => Number(x.split('-').pop()) - Number(y.split('-').pop())),
          "a sender's messages keep the order sent",
        );
      }
    }
  },
);

t.test('50 concurrent messages through two instances with 10 left: exactly 10 are stored', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const b = d.instance();
  const alice = await d.user('alice');
  const chatId = await d.group([alice]);
  for (let i = 0; i < 10; i++) await a.writer.write(text(alice, chatId));
  const writes = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).writer.write(text(alice, chatId)));
  const { stored, refused } = await settleAll(writes);
  t.equal(stored.length, 10, 'exactly the 10 remaining messages are stored');
  t.equal(refused.length, 40);
  t.ok(refused.every(isCode('quota_exceeded')), 'every refusal is quota_exceeded');
  t.same(
    (refused[0] as AppError).details,
    { limit: 20, resetsAt: Date.UTC(2026, 10, 23), tier: 'free' },
    'the refusal says the limit, when it resets, and the tier',
  );
  t.equal((await d.quotas.getUsage(alice.userId))?.messagesToday, 20, 'the stored counter ends at the limit');
  const { messages } = await d.log.page(chatId, undefined, 100);
  t.equal(messages.length, 20, 'and exactly 20 messages are stored');
});

t.test('50 concurrent first messages of a new day through two instances: exactly the limit is stored', async (t) => {
  const d = await deployment(t);
  const clock = fixedClock(NOV_22_NOON);
  const a = d.instance({ clock: clock.now });
  const b = d.instance({ clock: clock.now });
  const alice = await d.user('alice');
  const chatId = await d.group([alice]);
  for (let i = 0; i < 20; i++) await a.writer.write(text(alice, chatId));
  await t.rejects(b.writer.write(text(alice, chatId)), { code: 'quota_exceeded' }, 'the day is used up');

  clock.set(NOV_22_NOON + DAY_MS);
  const { stored, refused } = await settleAll(
    Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).writer.write(text(alice, chatId))),
  );
  t.equal(stored.length, 20, 'the new day starts from zero, and the race to start it loses no limit');
  t.ok(refused.length === 30 && refused.every(isCode('quota_exceeded')));
  t.equal((await d.quotas.getUsage(alice.userId))?.messagesToday, 20);
});

t.test('a commit that mixes senders at and under their limits stores the ones with room and refuses the others', async (t) => {
  const d = await deployment(t);
  // One commit at a time: the second batch collects every send made while the first is in flight.
  const { writer } = d.instance({ settings: { concurrency: 1 } });
  const full = await d.user('full');
  const fresh = await d.user('fresh');
  const almost = await d.user('almost');
  const chatId = await d.group([full, fresh, almost]);
  for (let i = 0; i < 20; i++) await writer.write(text(full, chatId));
  for (let i = 0; i < 19; i++) await writer.write(text(almost, chatId));
  const commitsBefore = writer.stats().commits;
  const results = await Promise.allSettled([
    writer.write(text(fresh, chatId, 'warm-up')),
    writer.write(text(full, chatId, 'full-1')),
    writer.write(text(fresh, chatId, 'fresh-1')),
    writer.write(text(almost, chatId, 'almost-1')),
    writer.write(text(almost, chatId, 'almost-2')),
    writer.write(text(fresh, chatId, 'fresh-2')),
  ]);
  const outcome = results.map((r) => (r.status === 'fulfilled' ? r.value.status : (r.reason as AppError).code));
  t.same(outcome, ['stored', 'quota_exceeded', 'stored', 'stored', 'quota_exceeded', 'stored']);
  t.ok(writer.stats().commits - commitsBefore <= 3, 'the mixed sends shared commits');
  t.equal((await d.quotas.getUsage(almost.userId))?.messagesToday, 20);
  t.equal((await d.quotas.getUsage(full.userId))?.messagesToday, 20);
});

t.test('premium raises the limit at once, on every instance; going back to free lowers it', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const alice = await d.user('alice');
  const chatId = await d.group([alice]);
  for (let i = 0; i < 20; i++) await a.writer.write(text(alice, chatId));
  await t.rejects(a.writer.write(text(alice, chatId)), { code: 'quota_exceeded', details: { tier: 'free', limit: 20 } });
  await d.quotas.setTier(alice.userId, 'premium');
  const next = await a.writer.write(text(alice, chatId));
  t.match(next, { status: 'stored', messagesToday: 21 }, 'the very next message passes');
  await d.quotas.setTier(alice.userId, 'free');
  await t.rejects(a.writer.write(text(alice, chatId)), { code: 'quota_exceeded', details: { tier: 'free', limit: 20 } });
});

t.test('a removed member cannot write, whatever the instance knew', async (t) => {
  const d = await deployment(t);
  const { writer } = d.instance();
  const owner = await d.user('owner');
  const dave = await d.user('dave');
  const chatId = await d.group([owner, dave]);
  t.equal((await writer.write(text(dave, chatId))).status, 'stored');
  await d.chats.removeMember(chatId, dave.userId, owner.userId, Date.now());
  await t.rejects(writer.write(text(dave, chatId)), { code: 'not_found' });
  const outsider = await d.user('outsider');
  await t.rejects(writer.write(text(outsider, chatId)), { code: 'not_found' });
  const { messages } = await d.log.page(chatId, undefined, 10);
  t.equal(messages.length, 1, 'only the message sent while a member is stored');
});

t.test('a retried clientMsgId through any instance gets the original seq and stores nothing', async (t) => {
  const d = await deployment(t);
  const a = d.instance();
  const b = d.instance();
  const alice = await d.user('alice');
  const chatId = await d.group([alice]);
  const first = await a.writer.write(text(alice, chatId, 'once'));
  const retry = await b.writer.write(text(alice, chatId, 'once'));
  t.equal(first.status, 'stored');
  t.match(retry, { status: 'duplicate', original: { chatId, seq: 1 } });

  // Two copies racing through two instances: one is stored, the other answered with its seq.
  const race = await settleAll([a.writer.write(text(alice, chatId, 'twice')), b.writer.write(text(alice, chatId, 'twice'))]);
  const values = race.results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  t.same(values.map((v) => v?.status).sort(), ['duplicate', 'stored']);
  const storedSeq = values.find((v) => v?.status === 'stored')!;
  const duplicate = values.find((v) => v?.status === 'duplicate')!;
  t.equal(duplicate.status === 'duplicate' && duplicate.original.seq, storedSeq.status === 'stored' && storedSeq.message.seq);

  // A duplicate in a commit with others: the others are stored.
  const mixed = await settleAll([a.writer.write(text(alice, chatId, 'once')), a.writer.write(text(alice, chatId, 'fresh'))]);
  t.equal(mixed.stored.length, 1);
  const { messages } = await d.log.page(chatId, undefined, 10);
  t.same(
    messages.map((m) => m.clientMsgId),
    ['once', 'twice', 'fresh'],
    'each clientMsgId is stored once',
  );
  t.equal((await d.quotas.getUsage(alice.userId))?.messagesToday, 3, 'and counted once');
});

t.test('failures half-way', async (t) => {
  t.test('a throttled or conflicting commit is tried again and stored once', async (t) => {
    const d = await deployment(t);
    let failures = 2;
    const { writer } = d.instance({
      wrapLog: (log) => ({
        ...log,
        async commit(commit) {
          if (failures-- > 0) throw new RetryableStoreError('throttled');
          return log.commit(commit);
        },
      }),
    });
    const alice = await d.user('alice');
    const chatId = await d.group([alice]);
    t.match(await writer.write(text(alice, chatId)), { status: 'stored', message: { seq: 1 } });
    t.equal((await d.log.page(chatId, undefined, 10)).messages.length, 1);
  });

  t.test('a timeout after the write applied: the repeat is recognised, the message stored once and acked as new', async (t) => {
    const d = await deployment(t);
    let lose = true;
    const { writer } = d.instance({
      wrapLog: (log) => ({
        ...log,
        async commit(commit) {
          const outcome = await log.commit(commit);
          if (lose) {
            lose = false;
            throw new RetryableStoreError('the answer was lost');
          }
          return outcome;
        },
      }),
    });
    const alice = await d.user('alice');
    const chatId = await d.group([alice]);
    const result = await writer.write(text(alice, chatId));
    t.match(result, { status: 'stored', message: { seq: 1 } });
    t.equal((await d.log.page(chatId, undefined, 10)).messages.length, 1);
    t.equal((await d.quotas.getUsage(alice.userId))?.messagesToday, 1, 'counted once');
  });

  t.test('an instance that dies after its commit applied: the retry through another instance gets the same seq', async (t) => {
    const d = await deployment(t);
    const dying = d.instance({
      wrapLog: (log) => ({
        ...log,
        async commit(commit) {
          await log.commit(commit);
          // The process is gone before it can answer anyone.
          throw new Error('instance died');
        },
      }),
    });
    const other = d.instance();
    const alice = await d.user('alice');
    const chatId = await d.group([alice]);
    await t.rejects(dying.writer.write(text(alice, chatId, 'lost-ack')));
    const retry = await other.writer.write(text(alice, chatId, 'lost-ack'));
    t.match(retry, { status: 'duplicate', original: { seq: 1 } });
    t.equal((await d.log.page(chatId, undefined, 10)).messages.length, 1);
  });

  t.test('a store that stays away: the sends get unavailable and nothing is stored', async (t) => {
    const d = await deployment(t);
    const { writer } = d.instance({
      settings: { commitDeadlineMs: 300 },
      wrapLog: (log) => ({
        ...log,
        commit: () => Promise.reject(new RetryableStoreError('connect ECONNREFUSED')),
      }),
    });
    const alice = await d.user('alice');
    const chatId = await d.group([alice]);
    await t.rejects(writer.write(text(alice, chatId)), { code: 'unavailable', details: { retryAfterMs: 1000 } });
    t.equal((await d.log.page(chatId, undefined, 10)).messages.length, 0);
  });

  t.test('the sequencer lost its counter (Redis restarted): no stored seq is handed out again', async (t) => {
    const d = await deployment(t);
    const { writer } = d.instance();
    const alice = await d.user('alice');
    const chatId = await d.group([alice]);
    for (let i = 0; i < 3; i++) await writer.write(text(alice, chatId));
    await d.redis.del(d.counterKey(chatId));
    t.match(await writer.write(text(alice, chatId)), { status: 'stored', message: { seq: 4 } }, 'seeded from what is stored');
    // A replica that had not caught up: the counter goes back.
    await d.redis.set(d.counterKey(chatId), '1');
    t.match(
      await writer.write(text(alice, chatId)),
      { status: 'stored', message: { seq: 5 } },
      'a taken seq is refused, the counter moved past it',
    );
    const { messages } = await d.log.page(chatId, undefined, 10);
    t.same(
      messages.map((m) => [m.seq, m.clientMsgId]),
      messages.map((m, i) => [i + 1, m.clientMsgId]),
      'seqs 1 to 5, none overwritten',
    );
    t.equal(new Set(messages.map((m) => m.clientMsgId)).size, 5);
  });
});

t.test('backpressure: when the store falls behind, new sends are refused at once instead of queued', async (t) => {
  const d = await deployment(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const { writer } = d.instance({
    settings: { concurrency: 1, maxQueued: 3 },
    wrapLog: (log) => ({
      ...log,
      async commit(commit) {
        await held;
        return log.commit(commit);
      },
    }),
  });
  const senders = await Promise.all(Array.from({ length: 5 }, (_, i) => d.user(`s${i}`)));
  const chatId = await d.group(senders);
  const first = writer.write(text(senders[0]!, chatId)); // in flight, held
  const queued = senders.slice(1, 4).map((s) => writer.write(text(s, chatId)));
  await t.rejects(writer.write(text(senders[4]!, chatId)), { code: 'unavailable', details: { retryAfterMs: 1000 } }, 'refused at once');
  release();
  const { stored } = await settleAll([first, ...queued]);
  t.equal(stored.length, 4, 'what was accepted is stored');
});

t.test('chat rows follow the messages: latest seq, preview and the sender having read their own', async (t) => {
  const d = await deployment(t);
  const { writer, activity } = d.instance();
  const alice = await d.user('alice');
  const bob = await d.user('bob');
  const chatId = await d.group([alice, bob]);
  await Promise.all([1, 2, 3].map((n) => writer.write({ sender: alice, chatId, clientMsgId: `r${n}`, text: `line ${n}` })));
  await activity.flush();
  const chat = await d.chats.get(chatId);
  t.match(chat, { lastSeq: 3, lastMessage: { seq: 3, senderId: alice.userId, preview: 'line 3' }, readSeq: { [alice.userId]: 3 } });
});
