/**
 * One contract suite (`busContract`) run against every Bus implementation.
 *
 * How "instances" map: each `harness.newBus()` is one instance of huddle.
 * - Redis bus: instances share channels through Redis (here the Redis at
 *   REDIS_URL under a key prefix of this run), as separate containers would.
 * - Memory bus: every instance is a world of its own (one process, no Redis), so
 *   only what one instance does with its own frames applies; the cross-instance
 *   checks run for shared harnesses only, and the memory bus has its own check
 *   that two of them never hear each other.
 *
 * "Nothing else arrived" is proven without sleeping: every publish under test is
 * awaited (Redis has answered, so it already queued the frame for each
 * subscriber), then a separate instance publishes a marker to every receiver;
 * a receiver that has the marker has everything published before it.
 */
import t from 'tap';
import { Cluster, Redis } from 'ioredis';
import type { Bus as AnyBus, BusChannel, BusDelivery as AnyBusDelivery } from '../../src/domain/fanout/ports.js';
import { chatChannel, userChannel } from '../../src/domain/fanout/ports.js';
import { createMemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { createRedisBus } from '../../src/adapters/redis/redis-bus.js';
import type { Logger } from '../../src/domain/logger.js';
import type { ServerFrame } from '../../src/transport/realtime/protocol.js';

/** The buses carry whatever frames their user defines; these tests use the realtime protocol's. */
type Bus = AnyBus<ServerFrame>;
type BusDelivery = AnyBusDelivery<ServerFrame>;
import { freePort, redisServerUnavailable, startRedisCluster, uniquePrefix } from '../helpers/redis-server.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface RecordingLogger extends Logger {
  warnings: string[];
  errors: string[];
}

function recordingLogger(): RecordingLogger {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    debug() {},
    info() {},
    warn(_obj, msg) {
      warnings.push(msg ?? '');
    },
    error(_obj, msg) {
      errors.push(msg ?? '');
    },
  };
}

interface BusHarness {
  name: string;
  /** Whether separate instances hear each other (see the file comment). */
  shared: boolean;
  newBus(t: Tap, logger?: Logger): Promise<Bus>;
  /** Puts a payload on a channel with no envelope around it, as a broken or foreign publisher would. */
  publishRaw?: (t: Tap, channel: BusChannel, payload: string) => Promise<void>;
}

/** Everything a bus delivered to its listeners, with a way to wait for more. */
function record(bus: Bus) {
  const got: BusDelivery[] = [];
  let wake: (() => void) | undefined;
  bus.onDelivery((delivery) => {
    got.push(delivery);
    wake?.();
  });
  return {
    got,
    on(channel: BusChannel) {
      return got.filter((d) => d.channel === channel);
    },
    /** Waits until `done()` holds; fails after 10 s (a guard against hanging, not a timing check). */
    async until(done: () => boolean, what: string) {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

type Recording = ReturnType<typeof record>;

let frameCounter = 0;
const receipt = (chatId: string, seq = ++frameCounter): ServerFrame => ({ type: 'receipt', chatId, userId: 'u1', seq });
const seqOf = (d: BusDelivery) => (d.frame.type === 'receipt' ? d.frame.seq : -1);

function busContract(harness: BusHarness) {
  let channelCounter = 0;
  const freshChat = () => chatChannel(`c${++channelCounter}-${Math.random().toString(36).slice(2, 8)}`);

  /**
   * Makes sure every frame already published has reached `receivers` (see the file comment).
   * In one process delivery is synchronous, so there is nothing to wait for.
   */
  async function settle(t: Tap, receivers: Array<{ bus: Bus; rec: Recording }>) {
    if (!harness.shared) return;
    const marker = await harness.newBus(t);
    const barrier = userChannel(`barrier-${Math.random().toString(36).slice(2)}`);
    await Promise.all(receivers.map(({ bus }) => bus.subscribe(barrier)));
    await marker.publish(barrier, { type: 'pong', serverTime: 0 });
    for (const { rec } of receivers) await rec.until(() => rec.on(barrier).length > 0, 'the barrier marker');
    await Promise.all(receivers.map(({ bus }) => bus.unsubscribe(barrier)));
  }

  t.test(`${harness.name}: the publisher's own listener gets its frame once, during publish`, async (t) => {
    const bus = await harness.newBus(t);
    const rec = record(bus);
    const channel = freshChat();
    await bus.subscribe(channel);
    const frame = receipt('a');

    const publishing = bus.publish(channel, frame);
    t.equal(rec.got.length, 1, 'delivered before publish returned');
    await publishing;
    await settle(t, [{ bus, rec }]);

    t.equal(rec.on(channel).length, 1, 'the copy that came back through Redis was dropped');
    const [delivery] = rec.on(channel);
    t.equal(delivery?.channel, channel);
    t.equal(delivery?.json, JSON.stringify(frame), 'json is the frame serialized, as sockets get it');
    t.same(delivery?.frame, frame);
    t.equal(delivery?.origin, bus.nodeId);
  });

  t.test(`${harness.name}: an instance not subscribed to a channel gets nothing from its own publish`, async (t) => {
    const bus = await harness.newBus(t);
    const rec = record(bus);
    const channel = freshChat();
    await bus.publish(channel, receipt('a'));
    await settle(t, [{ bus, rec }]);
    t.equal(rec.on(channel).length, 0);
  });

  t.test(`${harness.name}: subscriptions are sets: twice subscribed delivers once, one unsubscribe stops it`, async (t) => {
    const bus = await harness.newBus(t);
    const rec = record(bus);
    const channel = freshChat();
    await Promise.all([bus.subscribe(channel), bus.subscribe(channel)]);
    await bus.subscribe(channel);
    await bus.publish(channel, receipt('a'));
    await settle(t, [{ bus, rec }]);
    t.equal(rec.on(channel).length, 1);

    await bus.unsubscribe(channel);
    await bus.unsubscribe(channel);
    await bus.publish(channel, receipt('a'));
    await settle(t, [{ bus, rec }]);
    t.equal(rec.on(channel).length, 1, 'nothing after unsubscribe');
  });

  t.test(`${harness.name}: a listener that throws does not keep the others from the frame`, async (t) => {
    const logger = recordingLogger();
    const bus = await harness.newBus(t, logger);
    bus.onDelivery(() => {
      throw new Error('listener bug');
    });
    const rec = record(bus);
    const channel = freshChat();
    await bus.subscribe(channel);
    await t.resolves(bus.publish(channel, receipt('a')), 'publish does not fail because of a listener');
    t.equal(rec.on(channel).length, 1);
    t.equal(logger.errors.length, 1, 'the throw is logged');
  });

  t.test(`${harness.name}: 200 frames from one publisher arrive in publish order`, async (t) => {
    const publisher = await harness.newBus(t);
    const own = record(publisher);
    const channel = freshChat();
    await publisher.subscribe(channel);
    const receivers = [{ bus: publisher, rec: own }];
    if (harness.shared) {
      const other = await harness.newBus(t);
      receivers.push({ bus: other, rec: record(other) });
      await other.subscribe(channel);
    }
    const sent = Array.from({ length: 200 }, () => receipt('ordered'));
    await Promise.all(sent.map((frame) => publisher.publish(channel, frame)));
    await settle(t, receivers);
    const expected = sent.map((f) => (f.type === 'receipt' ? f.seq : -1));
    for (const { bus, rec } of receivers) {
      t.same(
        rec.on(channel).map(seqOf),
        expected,
        bus === publisher ? 'own listener, in order, once each' : 'other instance, in order, once each',
      );
    }
  });

  t.test(`${harness.name}: a closed bus refuses to publish and subscribe`, async (t) => {
    const bus = await harness.newBus(t);
    await t.resolves(bus.ping(), 'ping answers while open');
    await bus.close();
    await t.rejects(bus.publish(freshChat(), receipt('a')));
    await t.rejects(bus.subscribe(freshChat()));
    await t.resolves(bus.close(), 'closing twice is harmless');
  });

  if (!harness.shared) {
    t.test(`${harness.name}: separate instances never hear each other`, async (t) => {
      const a = await harness.newBus(t);
      const b = await harness.newBus(t);
      const recB = record(b);
      const channel = freshChat();
      await Promise.all([a.subscribe(channel), b.subscribe(channel)]);
      await a.publish(channel, receipt('a'));
      t.equal(recB.got.length, 0);
      t.not(a.nodeId, b.nodeId);
    });
    return;
  }

  t.test(`${harness.name}: a publish reaches every other subscribed instance exactly once, and no other`, async (t) => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => harness.newBus(t)));
    const [recB, recC, recD] = [record(b!), record(c!), record(d!)];
    const channel = freshChat();
    await Promise.all([b!.subscribe(channel), c!.subscribe(channel), d!.subscribe(freshChat())]);
    const frame = receipt('fanout');
    await a!.publish(channel, frame);
    await settle(t, [
      { bus: b!, rec: recB },
      { bus: c!, rec: recC },
      { bus: d!, rec: recD },
    ]);
    for (const [name, rec] of [
      ['b', recB],
      ['c', recC],
    ] as const) {
      t.equal(rec.on(channel).length, 1, `${name} got it once`);
      t.equal(rec.on(channel)[0]?.json, JSON.stringify(frame), `${name} got the publisher's JSON`);
      t.equal(rec.on(channel)[0]?.origin, a!.nodeId);
    }
    t.equal(recD.on(channel).length, 0, 'd, subscribed elsewhere, got nothing');
  });

  t.test(`${harness.name}: subscribe resolves once active: a publish right after it is received`, async (t) => {
    const [a, b] = await Promise.all([harness.newBus(t), harness.newBus(t)]);
    const recB = record(b);
    const channels = Array.from({ length: 20 }, freshChat);
    for (const channel of channels) {
      await b.subscribe(channel);
      await a.publish(channel, receipt('fresh'));
    }
    await settle(t, [{ bus: b, rec: recB }]);
    t.same(
      channels.map((channel) => recB.on(channel).length),
      channels.map(() => 1),
      'every frame published right after its subscribe arrived',
    );
  });

  t.test(`${harness.name}: unsubscribe stops delivery from other instances`, async (t) => {
    const [a, b] = await Promise.all([harness.newBus(t), harness.newBus(t)]);
    const recB = record(b);
    const channel = freshChat();
    await b.subscribe(channel);
    await a.publish(channel, receipt('before'));
    await recB.until(() => recB.on(channel).length === 1, 'the frame before unsubscribe');
    await b.unsubscribe(channel);
    await a.publish(channel, receipt('after'));
    await settle(t, [{ bus: b, rec: recB }]);
    t.equal(recB.on(channel).length, 1);
  });

  if (harness.publishRaw) {
    const publishRaw = harness.publishRaw;
    t.test(`${harness.name}: malformed payloads on a channel are logged and dropped`, async (t) => {
      const logger = recordingLogger();
      const [a, b] = await Promise.all([harness.newBus(t), harness.newBus(t, logger)]);
      const recB = record(b);
      const channel = freshChat();
      await b.subscribe(channel);
      const junk = [
        '',
        'hello',
        '{"type":"message"}',
        '2|abc|{"type":"pong","serverTime":1}',
        '1||{"type":"pong","serverTime":1}',
        '1|abc|{not json',
        '1|abc|[1,2]',
        '1|abc|{"serverTime":1}',
        '1|abc|null',
      ];
      for (const payload of junk) await publishRaw(t, channel, payload);
      const good = receipt('good');
      await a.publish(channel, good);
      await recB.until(() => recB.on(channel).length > 0, 'the good frame');
      await settle(t, [{ bus: b, rec: recB }]);
      t.same(
        recB.on(channel).map((d) => d.json),
        [JSON.stringify(good)],
        'only the good frame came through',
      );
      t.equal(logger.warnings.filter((w) => w.includes('malformed')).length, junk.length, 'each bad payload was logged');
      t.equal(logger.errors.length, 0);
    });
  }
}

// ---------- memory ----------

busContract({
  name: 'memory bus',
  shared: false,
  async newBus(t, logger) {
    const bus = createMemoryBus<ServerFrame>(logger ? { logger } : {});
    t.teardown(() => bus.close());
    return bus;
  },
});

// ---------- Redis ----------

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is not set: run the tests with "npm test", which starts Redis');
const keyPrefix = uniquePrefix('bus');

busContract({
  name: 'redis bus',
  shared: true,
  async newBus(t, logger) {
    const bus = await createRedisBus<ServerFrame>({ url: redisUrl, keyPrefix, logger: logger ?? recordingLogger() });
    t.teardown(() => bus.close());
    return bus;
  },
  async publishRaw(t, channel, payload) {
    const raw = new Redis(redisUrl);
    t.teardown(() => raw.quit());
    await raw.publish(`${keyPrefix}${channel}`, payload);
  },
});

t.test('redis bus: buses under different key prefixes never hear each other', async (t) => {
  const otherPrefix = uniquePrefix('busOther');
  const buses = await Promise.all(
    [keyPrefix, otherPrefix, otherPrefix].map((prefix) =>
      createRedisBus<ServerFrame>({ url: redisUrl, keyPrefix: prefix, logger: recordingLogger() }),
    ),
  );
  t.teardown(() => Promise.all(buses.map((bus) => bus.close())));
  const [a, b, marker] = buses as [Bus, Bus, Bus];
  const recB = record(b);
  const channel = chatChannel('same-name');
  const barrier = userChannel('barrier');
  await Promise.all([b.subscribe(channel), b.subscribe(barrier)]);
  await a.publish(channel, receipt('elsewhere'));
  await marker.publish(barrier, { type: 'pong', serverTime: 0 });
  await recB.until(() => recB.on(barrier).length > 0, 'the barrier marker');
  t.equal(recB.on(channel).length, 0);
});

t.test('redis bus: creating it fails when Redis cannot be reached', async (t) => {
  const port = await freePort();
  await t.rejects(
    createRedisBus<ServerFrame>({ url: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix('gone'), logger: recordingLogger() }),
    /cannot reach Redis for the bus: .*ECONNREFUSED/,
  );
});

// ---------- Redis Cluster, sharded pub/sub ----------

const clusterUnavailable = redisServerUnavailable();
if (clusterUnavailable) {
  t.skip(`redis bus (sharded, Redis Cluster): cannot start a local cluster: ${clusterUnavailable}`, () => {});
} else {
  const clusterPrefix = uniquePrefix('sbus');
  const cluster = startRedisCluster({ masters: 3 });
  // Started once for the suite; a start failure surfaces in the first test that awaits it.
  cluster.catch(() => {});
  t.teardown(() =>
    cluster.then(
      (c) => c.close(),
      () => {},
    ),
  );
  busContract({
    name: 'redis bus (sharded, Redis Cluster)',
    shared: true,
    async newBus(t, logger) {
      const { url } = await cluster;
      const bus = await createRedisBus<ServerFrame>({ url, keyPrefix: clusterPrefix, logger: logger ?? recordingLogger(), sharded: true });
      t.teardown(() => bus.close());
      return bus;
    },
    async publishRaw(t, channel, payload) {
      const { url } = await cluster;
      const raw = new Cluster([url]);
      t.teardown(() => raw.quit());
      await raw.spublish(`${clusterPrefix}${channel}`, payload);
    },
  });
}
