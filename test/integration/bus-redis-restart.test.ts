/**
 * The Redis bus across a Redis crash and restart, on a throwaway redis-server
 * (the shared one at REDIS_URL must not be killed). The buses are never
 * recreated: whatever works afterwards, they recovered on their own.
 */
import t from 'tap';
import type { Bus, BusChannel, BusDelivery } from '../../src/domain/fanout/ports.js';
import { chatChannel, userChannel } from '../../src/domain/fanout/ports.js';
import { createRedisBus } from '../../src/adapters/redis/redis-bus.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { ServerFrame } from '../../src/transport/realtime/protocol.js';
import { redisServerUnavailable, startRedisCluster, startRedisServer, uniquePrefix } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

interface Instance {
  bus: Bus<ServerFrame>;
  got: BusDelivery<ServerFrame>[];
  recoveries: number;
  on(channel: BusChannel): BusDelivery<ServerFrame>[];
}

async function instance(t: Tap, server: { url: string }, keyPrefix: string, sharded = false): Promise<Instance> {
  const bus = await createRedisBus<ServerFrame>({ url: server.url, keyPrefix, logger: silentLogger, sharded });
  t.teardown(() => bus.close());
  const self: Instance = {
    bus,
    got: [],
    recoveries: 0,
    on: (channel) => self.got.filter((d) => d.channel === channel),
  };
  bus.onDelivery((d) => self.got.push(d));
  bus.onRecovered(() => self.recoveries++);
  return self;
}

let seq = 0;
const frame = (chatId: string): ServerFrame => ({ type: 'receipt', chatId, userId: 'u1', seq: ++seq });

const unavailable = redisServerUnavailable();
if (unavailable) {
  t.skip(`bus recovery after a Redis restart: cannot start a throwaway Redis: ${unavailable}`, () => {});
} else {
  t.test('buses re-subscribe and report recovery after Redis restarts, without being recreated', async (t) => {
    const server = await startRedisServer();
    t.teardown(() => server.close());
    const keyPrefix = uniquePrefix('restart');
    const [a, b] = [await instance(t, server, keyPrefix), await instance(t, server, keyPrefix)];
    const room = chatChannel('room');
    const dropped = chatChannel('dropped-while-down');
    const late = chatChannel('subscribed-while-down');
    const barrier = userChannel('barrier');

    // 1. Both subscribed; a frame goes through.
    await Promise.all([a.bus.subscribe(room), b.bus.subscribe(room), b.bus.subscribe(dropped), b.bus.subscribe(barrier)]);
    await a.bus.publish(room, frame('before'));
    await until(() => b.on(room).length === 1, 'the frame before the crash');

    // 2. Redis crashes.
    await server.kill();
    await t.rejects(a.bus.ping(), 'ping fails while Redis is down');

    // 3. Calls made while Redis is away wait for it instead of being lost.
    const lateSubscribe = b.bus.subscribe(late);
    const dropUnsubscribe = b.bus.unsubscribe(dropped);

    // 4. Redis comes back, empty, on the same port.
    await server.restart();
    await until(() => a.recoveries > 0 && b.recoveries > 0, 'onRecovered on both buses');
    await t.resolves(lateSubscribe, 'the subscribe made while Redis was down resolved');
    await t.resolves(dropUnsubscribe);
    // The publishing connection reconnects on its own schedule, so the readiness probe may fail a little longer.
    await until(
      () =>
        a.bus.ping().then(
          () => true,
          () => false,
        ),
      'ping to answer again',
    );

    // 5. Delivery works again; the last frame marks the end of what a sent, in order.
    b.got.length = 0;
    const afterRoom = frame('after');
    await a.bus.publish(room, afterRoom);
    await a.bus.publish(late, frame('late'));
    await a.bus.publish(dropped, frame('dropped'));
    await a.bus.publish(barrier, { type: 'pong', serverTime: 0 });
    await until(() => b.on(barrier).length === 1, 'the barrier frame');

    t.same(
      b.on(room).map((d) => d.json),
      [JSON.stringify(afterRoom)],
      'the re-subscribed channel delivers, once',
    );
    t.equal(b.on(late).length, 1, 'the channel subscribed while down delivers, once');
    t.equal(b.on(dropped).length, 0, 'the channel unsubscribed while down stays unsubscribed');
    t.equal(a.on(room).length, 2, "a's own listener got each of its frames once, no echo");
    t.equal(a.recoveries, 1, 'a reported one recovery');
    t.equal(b.recoveries, 1, 'b reported one recovery');
  });

  t.test('a subscribe made while Redis stays away fails, and the channel stays unsubscribed', async (t) => {
    const server = await startRedisServer();
    t.teardown(() => server.close());
    const keyPrefix = uniquePrefix('outage');
    const [a, b] = [await instance(t, server, keyPrefix), await instance(t, server, keyPrefix)];
    const barrier = userChannel('barrier');
    const wanted = chatChannel('wanted-during-outage');
    await b.bus.subscribe(barrier);

    await server.kill();
    // 1. Redis stays down past the bus's offline retry limit: the caller is told.
    await t.rejects(b.bus.subscribe(wanted), 'subscribe rejects instead of waiting forever');

    // 2. Redis returns: the failed channel must not come back behind the caller's back.
    await server.restart();
    await until(() => b.recoveries > 0, 'onRecovered');
    await a.bus.publish(wanted, frame('wanted'));
    await a.bus.publish(barrier, { type: 'pong', serverTime: 0 });
    await until(() => b.on(barrier).length === 1, 'the barrier frame');
    t.equal(b.on(wanted).length, 0);

    // 3. A new subscribe works as usual.
    await b.bus.subscribe(wanted);
    await a.bus.publish(wanted, frame('wanted'));
    await until(() => b.on(wanted).length === 1, 'the frame after subscribing again');
  });

  t.test('sharded buses on a Redis Cluster recover when a shard restarts', async (t) => {
    const cluster = await startRedisCluster({ masters: 3 });
    t.teardown(() => cluster.close());
    const keyPrefix = uniquePrefix('shardrestart');
    const [a, b] = [await instance(t, cluster, keyPrefix, true), await instance(t, cluster, keyPrefix, true)];
    // Enough channels that every shard owns some.
    const channels = Array.from({ length: 30 }, (_, i) => chatChannel(`room${i}`));
    for (const channel of channels) await b.bus.subscribe(channel);

    await cluster.nodes[1]!.restart();
    await until(() => b.recoveries > 0, 'onRecovered after the shard restart');

    // Order holds per channel only (channels live on different shards): a marker after each frame ends it.
    const marker: ServerFrame = { type: 'pong', serverTime: 0 };
    for (const channel of channels) {
      await a.bus.publish(channel, frame('after'));
      await a.bus.publish(channel, marker);
    }
    await until(() => channels.every((channel) => b.on(channel).some((d) => d.frame.type === 'pong')), 'every marker');
    t.same(
      channels.map((channel) => b.on(channel).filter((d) => d.frame.type === 'receipt').length),
      channels.map(() => 1),
      'every channel, on every shard, delivers once after the restart',
    );
  });
}
