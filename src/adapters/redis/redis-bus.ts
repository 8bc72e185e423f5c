/**
 * The bus over Redis pub/sub, shared by every instance. See `domain/fanout/ports.ts` for the
 * contract and `README.md` for how reconnects play out.
 *
 * The transports use two connections: a subscribed connection may only run
 * (un)subscribe commands under RESP2, and publishes must not queue behind a
 * flood of incoming frames. The set of channels this instance wants lives here
 * (`wanted`), not in ioredis: after a reconnect the bus re-subscribes exactly
 * that set itself, so it knows when every subscription is active again and can
 * tell its `onRecovered` listeners.
 */
import { BusNotReadyError, type Bus, type BusChannel, type BusFrame } from '../../domain/fanout/ports.js';
import type { Logger } from '../../domain/logger.js';
import type { Metrics } from '../../domain/metrics.js';
import { createDeliveryListeners } from '../bus-listeners.js';
import { createBusProbe } from './bus-probe.js';
import { decodeEnvelope, encodeEnvelope, newNodeId } from './envelope.js';
import { createShardedTransport } from './sharded-transport.js';
import { createStandaloneTransport } from './standalone-transport.js';
import type { RedisCredentials } from './connection.js';

export interface RedisBusOptions {
  /** `redis://` or `rediss://` URL; with `sharded`, any node of the cluster. */
  url: string;
  /** The AUTH token and TLS, when the URL does not say them. */
  credentials?: RedisCredentials | undefined;
  /** Put before every channel name, so deployments (and test runs) sharing a Redis never hear each other. */
  keyPrefix: string;
  logger: Logger;
  /** This instance's id, carried in every envelope so its own echo is dropped. @default a random one */
  nodeId?: string;
  /**
   * Use sharded pub/sub (SSUBSCRIBE/SPUBLISH) on a Redis Cluster: each channel
   * lives on the shard that owns its slot instead of being broadcast to every node.
   * @default false
   */
  sharded?: boolean;
  /**
   * How often the self-probe publishes on this instance's probe channel, and how long
   * a probe may take to come back before the subscription counts as stuck (ms).
   * @default 10000
   */
  probeIntervalMs?: number;
  /** Where lost and stuck subscribers are counted. */
  metrics?: Pick<Metrics, 'busSubscriberLost'>;
}

export const DEFAULT_PROBE_INTERVAL_MS = 10_000;

/** How long `ping` waits for an answer: below the readiness probe's 2 s, so the probe reports "failed", not a timeout. */
const PING_TIMEOUT_MS = 1500;
/** One SUBSCRIBE carries at most this many channels when re-subscribing after a reconnect. */
const RESUBSCRIBE_BATCH = 1000;

export async function createRedisBus<Frame extends BusFrame = BusFrame>(opts: RedisBusOptions): Promise<Bus<Frame>> {
  const nodeId = opts.nodeId ?? newNodeId();
  const log = opts.logger;
  const transport = opts.sharded
    ? createShardedTransport({ url: opts.url, credentials: opts.credentials, nodeId, logger: log })
    : createStandaloneTransport({ url: opts.url, credentials: opts.credentials, nodeId, logger: log });
  const listeners = createDeliveryListeners<Frame>(log);

  const redisChannel = (channel: BusChannel) => `${opts.keyPrefix}${channel}`;
  // Not a BusChannel: no caller can subscribe to it, and its messages are tokens, not envelopes.
  const probeChannel = `${opts.keyPrefix}probe:${nodeId}`;
  const busChannel = (name: string): BusChannel | undefined =>
    name.startsWith(opts.keyPrefix) ? (name.slice(opts.keyPrefix.length) as BusChannel) : undefined;

  /** Channels callers have subscribed to and not unsubscribed from: what Redis must hold for us. */
  const wanted = new Set<BusChannel>();
  /** The latest (un)subscribe still waiting for Redis, per channel, so a repeated call waits for the same answer. */
  const pending = new Map<BusChannel, Promise<void>>();
  let closed = false;
  let recoveryRound = 0;
  /** The reconnect under way was asked for by the probe: a stuck subscriber, already counted, not a lost one. */
  let reopenedByProbe = false;
  /** How many reopens the probe has asked for: a round that started before the latest one must not clear the flag. */
  let probeReopens = 0;

  function track(channel: BusChannel, command: Promise<unknown>, onFailure: (err: unknown) => void): Promise<void> {
    const op: Promise<void> = command.then(
      () => {
        if (pending.get(channel) === op) pending.delete(channel);
      },
      (err: unknown) => {
        // A newer call on this channel decides its state; this failure only concerns its own caller.
        if (pending.get(channel) === op) {
          pending.delete(channel);
          onFailure(err);
        }
        throw err;
      },
    );
    pending.set(channel, op);
    return op;
  }

  const probe = createBusProbe({
    intervalMs: opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    publish: (token) => transport.publish(probeChannel, token),
    restore() {
      reopenedByProbe = true;
      probeReopens++;
      transport.reopenSubscriber();
    },
    onStuck: () => opts.metrics?.busSubscriberLost('stuck'),
    publisherLooksConnected: () => transport.publisherLooksConnected(),
    restorePublisher: () => transport.reopenPublisher(),
    logger: log,
  });

  transport.onMessage((name, raw) => {
    // The probe is meant to come back to its sender: it is answered before any echo dropping.
    if (name === probeChannel) {
      probe.received(raw);
      return;
    }
    const channel = busChannel(name);
    // A frame that arrives after `unsubscribe` was called is not wanted any more, even if Redis has not confirmed yet.
    if (!channel || !wanted.has(channel)) return;
    const envelope = decodeEnvelope(raw);
    if (!envelope.ok) {
      log.warn({ channel, reason: envelope.reason, bytes: raw.length }, 'bus dropped a malformed envelope');
      return;
    }
    if (envelope.origin === nodeId) return; // delivered locally inside publish()
    // The publisher built the frame from the same typed vocabulary; the bus only checks its outline.
    listeners.deliver({ channel, frame: envelope.frame as Frame, json: envelope.json, origin: envelope.origin });
  });

  transport.onResubscribeNeeded(() => {
    const round = ++recoveryRound;
    const reopensAtStart = probeReopens;
    if (!reopenedByProbe) {
      opts.metrics?.busSubscriberLost('closed');
      log.warn(
        { channels: wanted.size },
        'bus subscriber connection was lost: frames published until it re-subscribed are missed; sockets will resync',
      );
    }
    const channels = [probeChannel, ...[...wanted].map(redisChannel)];
    const batches: Promise<unknown>[] = [];
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      batches.push(transport.subscribe(channels.slice(i, i + RESUBSCRIBE_BATCH)));
    }
    Promise.all(batches).then(
      () => {
        // A later reconnect started its own round, which will announce itself.
        if (round !== recoveryRound || closed) return;
        // Cleared only now: a cluster client reports `subscribersReady` once per shard it replaced.
        // Not when the probe asked for another reopen meanwhile: the reconnect it causes is still its own.
        if (probeReopens === reopensAtStart) reopenedByProbe = false;
        log.info({ channels: channels.length - 1 }, 'bus reconnected to Redis and re-subscribed');
        probe.probeNow();
        listeners.recovered();
      },
      (err: unknown) => {
        log.warn({ err, channels: channels.length }, 'bus could not re-subscribe; trying again on the next reconnect');
      },
    );
  });

  await transport.start();
  try {
    await transport.subscribe([probeChannel]);
  } catch (err) {
    await transport.close();
    throw new Error(`cannot subscribe the bus's probe channel: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  probe.start();

  const assertOpen = () => {
    if (closed) throw new Error('bus is closed');
  };

  return {
    nodeId,

    async publish(channel, frame) {
      assertOpen();
      const json = JSON.stringify(frame);
      if (wanted.has(channel)) listeners.deliver({ channel, frame, json, origin: nodeId });
      await transport.publish(redisChannel(channel), encodeEnvelope(nodeId, json));
    },

    subscribe(channel) {
      if (closed) return Promise.reject(new Error('bus is closed'));
      if (wanted.has(channel)) return pending.get(channel) ?? Promise.resolve();
      wanted.add(channel);
      // Failed (Redis stayed away past the retry limit): the caller learns it was not subscribed,
      // and the recovery round must not subscribe it behind the caller's back.
      return track(channel, transport.subscribe([redisChannel(channel)]), () => wanted.delete(channel));
    },

    unsubscribe(channel) {
      if (closed) return Promise.resolve();
      if (!wanted.has(channel)) return pending.get(channel)?.catch(() => {}) ?? Promise.resolve();
      wanted.delete(channel);
      // An UNSUBSCRIBE can only fail when the connection is gone, and with it the subscription;
      // the recovery round re-subscribes `wanted` only, so the channel stays unsubscribed.
      return track(channel, transport.unsubscribe([redisChannel(channel)]), (err) =>
        log.debug({ err, channel }, 'bus unsubscribe reached no Redis; the reconnect will leave it out'),
      ).catch(() => {});
    },

    onDelivery: listeners.onDelivery,
    onRecovered: listeners.onRecovered,

    async ping() {
      assertOpen();
      const stuck = probe.stuckReason();
      if (stuck) throw new BusNotReadyError('bus_subscription_stuck', stuck);
      if (!transport.isReady()) throw new Error('bus is not connected to Redis');
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          transport.ping(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis did not answer a ping within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      probe.stop();
      wanted.clear();
      listeners.clear();
      await transport.close();
    },
  };
}
