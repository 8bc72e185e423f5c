/**
 * A bus subscription that looks alive and delivers nothing, three real ways, each on a
 * throwaway redis-server: instance A reaches Redis through a TCP hop the test breaks for
 * A's subscriber connection only (recognised by the name it gives itself, so A's
 * publisher, sequencer and presence keep working); instance B talks to Redis directly.
 * Bob listens on A; the others send through B. Each time: A notices (a metric, a log
 * line, `/readyz` while it lasts), re-subscribes, tells its sockets to `resync`, and bob
 * gets back by `sync` every stored message, exactly once and in order.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { startTestStack, startInstance, type TestInstance, type TestStack } from '../helpers/test-stack.js';
import { redisServerUnavailable, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { api, openDirect, person, type Person } from '../helpers/people.js';
import { connectReady, type ChatClient, type Frame } from '../helpers/ws-client.js';
import { seriesValue } from '../helpers/metrics-text.js';
import { until } from '../helpers/until.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** ioredis names each connection; the bus's subscriber is `huddle-sub-<nodeId>`, its publisher `huddle-pub-<nodeId>`. */
const subscriberOf = (nodeId: string) => (clientBytes: string) => clientBytes.includes(`huddle-sub-${nodeId}`);
const publisherOf = (nodeId: string) => (clientBytes: string) => clientBytes.includes(`huddle-pub-${nodeId}`);

async function readyz(instance: TestInstance) {
  const res = await fetch(`${instance.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { failed: string[]; reasons?: Record<string, string> } };
}

async function metric(instance: TestInstance, series: string): Promise<number> {
  return seriesValue(await instance.services.metrics.render(), series) ?? 0;
}

interface Scene {
  redis: RedisServer;
  proxy: TcpProxy;
  /** Holds bob's socket; reaches Redis through the proxy. */
  a: TestInstance;
  /** Where the senders are; reaches Redis directly. */
  b: TestInstance;
  isASubscriber: (clientBytes: string) => boolean;
}

async function scene(t: Tap, stack: TestStack, envA: Record<string, string>, envB: Record<string, string> = {}): Promise<Scene> {
  const redis = await startRedisServer();
  t.teardown(() => redis.close());
  const proxy = await startTcpProxy({ port: redis.port });
  t.teardown(() => proxy.close());
  const a = await startInstance(t, stack, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, ...envA });
  const b = await startInstance(t, stack, { REDIS_URL: redis.url, ...envB });
  return { redis, proxy, a, b, isASubscriber: subscriberOf(a.services.nodeId) };
}

async function online(t: Tap, instance: TestInstance, who: Person): Promise<ChatClient> {
  const { client } = await connectReady(instance.wsUrl, who.cookie);
  t.teardown(() => client.close());
  return client;
}

/**
 * Alice on `from` and bob on `to` in a direct chat, both online, and one message that
 * already crossed from alice to bob (seq 1): the state every fault below starts from.
 */
async function conversationAcross(t: Tap, from: TestInstance, to: TestInstance) {
  const alice = await person(from, 'alice');
  const bob = await person(to, 'bob');
  const chatId = await openDirect(from, alice, bob);
  const aliceSocket = await online(t, from, alice);
  const bobSocket = await online(t, to, bob);
  aliceSocket.send({ type: 'send', chatId, clientMsgId: 'before', text: 'before the fault' });
  await bobSocket.next('message', (f) => f.message.clientMsgId === 'before');
  return { chatId, aliceSocket, bobSocket };
}

/** The ack or the refusal of one send, among the frames received since `from`. */
async function answerTo(client: ChatClient, clientMsgId: string, from: number) {
  const isAnswer = (f: Frame): f is Extract<Frame, { type: 'ack' | 'error' }> =>
    (f.type === 'ack' && f.clientMsgId === clientMsgId) || (f.type === 'error' && f.details?.clientMsgId === clientMsgId);
  let answer: Extract<Frame, { type: 'ack' | 'error' }> | undefined;
  await until(() => (answer = client.frames.slice(from).find(isAnswer)) !== undefined, `an answer to ${clientMsgId}`, 30_000);
  return answer!;
}

/** Seqs bob's socket got live in `chatId`, in arrival order. */
const liveSeqs = (client: ChatClient, chatId: string) =>
  client.frames.flatMap((f) => (f.type === 'message' && f.message.chatId === chatId ? [f.message.seq] : []));

/**
 * What bob's client does after `resync`: asks for everything after the last seq it holds
 * without a gap, and merges. Returns the synced seqs and the merged, de-duplicated view.
 */
async function syncLikeAClient(client: ChatClient, chatId: string) {
  const live = [...new Set(liveSeqs(client, chatId))].sort((x, y) => x - y);
  let contiguous = 0;
  while (live.includes(contiguous + 1)) contiguous += 1;
  client.send({ type: 'sync', chats: [{ chatId, lastSeq: contiguous }] });
  const synced = await client.next('synced', (f) => f.chatId === chatId);
  const syncedSeqs = synced.messages.map((m) => m.seq);
  const view = [...live.filter((s) => s <= contiguous), ...syncedSeqs];
  return { contiguous, syncedSeqs, view };
}

const noRedisServer = redisServerUnavailable();
if (noRedisServer) {
  t.skip(`stuck bus subscriptions: cannot start a throwaway redis-server: ${noRedisServer}`, () => {});
} else {
  const stack = await startTestStack(t);

  t.test('a paused subscriber: the probe notices, /readyz names it, the subscription comes back and sync fills the gap', async (t) => {
    const { proxy, a, b, isASubscriber } = await scene(t, stack, { BUS_PROBE_INTERVAL_MS: '500' });
    const { chatId, aliceSocket, bobSocket } = await conversationAcross(t, b, a);
    t.equal((await readyz(a)).status, 200, 'ready before the fault');

    // The subscriber's connection stays open and silent: no FIN, no RST, nothing delivered.
    proxy.blackhole(isASubscriber);
    for (const n of [1, 2, 3]) {
      aliceSocket.send({ type: 'send', chatId, clientMsgId: `during-${n}`, text: `while paused ${n}` });
      await aliceSocket.next('ack', (f) => f.clientMsgId === `during-${n}`);
    }
    await until(async () => (await readyz(a)).status === 503, '/readyz on A to fail');
    const down = await readyz(a);
    t.same(down.body.failed, ['bus'], '/readyz names the bus');
    t.same(down.body.reasons, { bus: 'bus_subscription_stuck' }, 'and why');
    t.equal((await readyz(b)).status, 200, 'the other instance stays ready');
    t.ok((await metric(a, 'huddle_bus_subscriber_lost_total{cause="stuck"}')) >= 1, 'the stuck subscriber is counted');
    t.equal(liveSeqs(bobSocket, chatId).length, 1, 'nothing reached bob while paused');

    proxy.heal();
    const resync = await bobSocket.next('resync', (f) => f.reason === 'bus_reconnected', 15_000);
    t.ok(resync, 'bob is told to resync once the subscription is back');
    await until(async () => (await readyz(a)).status === 200, '/readyz on A to recover');
    t.ok((await metric(a, 'huddle_resyncs_sent_total{reason="bus_reconnected"}')) >= 1, 'the resync is counted');

    const { syncedSeqs, view } = await syncLikeAClient(bobSocket, chatId);
    t.same(syncedSeqs, [2, 3, 4], 'sync returns what the paused subscriber missed');
    t.same(view, [1, 2, 3, 4], 'bob holds every stored message once, in order');

    aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'live again' });
    const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after');
    t.equal(live.message.seq, 5, 'live delivery resumed without restarting A');
  });

  t.test('channels unsubscribed behind the bus’s back: the probe notices and re-subscribes', async (t) => {
    const { proxy, a, b, isASubscriber } = await scene(t, stack, { BUS_PROBE_INTERVAL_MS: '500' });
    const { chatId, aliceSocket, bobSocket } = await conversationAcross(t, b, a);

    // Redis drops every subscription of A's subscriber connection; the connection stays up.
    t.equal(proxy.inject(isASubscriber, 'UNSUBSCRIBE\r\n'), 1, 'the UNSUBSCRIBE went on the subscriber connection');
    const resync = await bobSocket.next('resync', (f) => f.reason === 'bus_reconnected', 15_000);
    t.ok(resync, 'bob is told to resync');
    t.ok((await metric(a, 'huddle_bus_subscriber_lost_total{cause="stuck"}')) >= 1, 'counted as a stuck subscriber');
    t.equal(await metric(a, 'huddle_bus_subscriber_lost_total{cause="closed"}'), 0, 'the connection itself was never closed');

    aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'after' });
    const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after');
    t.equal(live.message.seq, 2, 'the chat channel is subscribed again');
  });

  t.test(
    'a frozen publisher connection: the probe notices, re-opens it, and what it held reaches the other instance once, in order',
    async (t) => {
      const { proxy, a, b } = await scene(t, stack, { BUS_PROBE_INTERVAL_MS: '500' });
      const { chatId, aliceSocket, bobSocket } = await conversationAcross(t, a, b);

      // A's publisher connection stays open and silent (its new ones too, until healed); A's other connections work.
      const acceptedBefore = proxy.accepted;
      proxy.blackhole(publisherOf(a.services.nodeId));
      for (const n of [1, 2, 3]) {
        aliceSocket.send({ type: 'send', chatId, clientMsgId: `frozen-${n}`, text: `while frozen ${n}` });
        await aliceSocket.next('ack', (f) => f.clientMsgId === `frozen-${n}`);
      }
      await until(async () => (await readyz(a)).status === 503, '/readyz on A to fail while its publisher is frozen');
      await until(() => proxy.accepted > acceptedBefore, 'A to re-open its publisher connection', 15_000);
      t.equal(liveSeqs(bobSocket, chatId).length, 1, 'nothing reached bob while the publisher was frozen');

      // The re-opened connection froze too; once the network is back, the next re-open gets through.
      proxy.heal();
      for (const n of [2, 3, 4]) await bobSocket.next('message', (f) => f.message.seq === n, 15_000);
      t.same(liveSeqs(bobSocket, chatId), [1, 2, 3, 4], 'what the frozen connection held reached bob live, once and in order');
      await until(async () => (await readyz(a)).status === 200, '/readyz on A to recover');

      aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'after' });
      const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after');
      t.equal(live.message.seq, 5, 'live delivery from A resumed without restarting it');
    },
  );

  t.test('Redis closes a lagging subscriber for its output buffer: A re-subscribes, resyncs, and sync fills the gap', async (t) => {
    const senders = 8;
    const perSender = 40;
    // About 8 MB in all: more than loopback TCP buffers hold (about 4 MB here) before Redis's own buffer grows.
    const textLength = 25_000;
    // The probe is made slow here so that what A notices is the closed connection itself.
    const { redis, proxy, a, b, isASubscriber } = await scene(
      t,
      stack,
      { BUS_PROBE_INTERVAL_MS: '600000' },
      { MESSAGE_MAX_LENGTH: String(textLength) },
    );
    const flooders = await Promise.all(Array.from({ length: senders }, (_, i) => person(b, `flood${i}`)));
    const bob = await person(a, 'bob');
    const group = await api<{ chat: { chatId: string } }>(b, flooders[0], 'POST', '/chats/group', {
      title: 'flood',
      members: [...flooders.slice(1), bob].map((p) => p.username),
    });
    t.equal(group.status, 201);
    const chatId = group.body.chat.chatId;
    const sockets = await Promise.all(flooders.map((p) => online(t, b, p)));
    const bobSocket = await online(t, a, bob);

    const admin = new Redis(redis.url, { lazyConnect: true });
    await admin.connect();
    t.teardown(() => admin.quit());
    // Far below the default (32mb 8mb 60), so that a test-sized flood is enough.
    await admin.config('SET', 'client-output-buffer-limit', 'pubsub 64kb 32kb 1');
    const subscriberName = `huddle-sub-${a.services.nodeId}`;
    const aSubscribed = async () => ((await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string).includes(`name=${subscriberName}`);
    t.ok(await aSubscribed(), "A's subscriber is connected to Redis");

    // A's subscriber stops reading, as one too busy to keep up does; the chat floods with big messages.
    t.equal(proxy.stall(isASubscriber), 1);
    const text = 'x'.repeat(textLength);
    const acked: number[] = [];
    // Each sender as the page does: one send at a time, a retryable refusal sent again with the same clientMsgId.
    await Promise.all(
      sockets.map(async (socket, s) => {
        for (let n = 0; n < perSender; n++) {
          const clientMsgId = `f${s}-${n}`;
          for (;;) {
            const from = socket.frames.length;
            socket.send({ type: 'send', chatId, clientMsgId, text });
            const answer = await answerTo(socket, clientMsgId, from);
            if (answer.type === 'ack') {
              acked.push(answer.seq);
              break;
            }
            if (answer.code !== 'unavailable') throw new Error(`send ${clientMsgId} refused: ${answer.code}`);
            await new Promise((resolve) => setTimeout(resolve, Number(answer.details?.retryAfterMs ?? 200)));
          }
        }
      }),
    );
    t.equal(acked.length, senders * perSender, 'every message of the flood is stored');
    await until(async () => !(await aSubscribed()), 'Redis to close the lagging subscriber', 30_000);
    t.pass('Redis closed the subscriber for its output buffer');

    // A reads what was still in flight, then the close; it must notice, re-subscribe and resync.
    proxy.heal();
    await bobSocket.next('resync', (f) => f.reason === 'bus_reconnected', 15_000);
    t.ok((await metric(a, 'huddle_bus_subscriber_lost_total{cause="closed"}')) >= 1, 'the lost subscriber is counted');
    t.ok(await aSubscribed(), 'A is subscribed again');
    t.equal((await fetch(`${a.baseUrl}/healthz`)).status, 200, 'A stayed up');

    const { syncedSeqs, view } = await syncLikeAClient(bobSocket, chatId);
    const stored = [...acked].sort((x, y) => x - y);
    t.same(view, stored, 'bob holds every stored message once, in order');
    t.ok(syncedSeqs.length > 0, 'and sync brought what never went live');
    t.comment(`${stored.length} stored; ${liveSeqs(bobSocket, chatId).length} reached bob live, ${syncedSeqs.length} by sync`);
  });
}
