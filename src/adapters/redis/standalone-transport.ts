/**
 * The bus's transport on a single Redis (or a primary with replicas): plain
 * PUBLISH/SUBSCRIBE on two connections.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../domain/logger.js';
import { baseConnectionOptions, closeConnection, watchConnection, type RedisCredentials } from './connection.js';

/** The pub/sub primitives the bus needs; a plain Redis and a cluster provide them differently. */
export interface PubSubTransport {
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channels: readonly string[]): Promise<unknown>;
  unsubscribe(channels: readonly string[]): Promise<unknown>;
  ping(): Promise<unknown>;
  /** Both connections can take commands now. */
  isReady(): boolean;
  onMessage(handler: (channel: string, message: string) => void): void;
  /** Called each time the subscribing side is connected again after a loss (never for the first connect). */
  onResubscribeNeeded(handler: () => void): void;
  /**
   * Drops the subscribing connection(s) and connects again, for a subscription that looks
   * alive and delivers nothing; `onResubscribeNeeded` follows once it is back.
   */
  reopenSubscriber(): void;
  /** The publishing connection's TCP flow is up as far as the client knows (not connecting, reconnecting or closed). */
  publisherLooksConnected(): boolean;
  /** Drops the publishing connection and connects again; commands it held unanswered are sent again. */
  reopenPublisher(): void;
  /** Resolves when both sides are connected; rejects, leaving nothing running, if Redis cannot be reached. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createStandaloneTransport(opts: {
  url: string;
  credentials?: RedisCredentials | undefined;
  nodeId: string;
  logger: Logger;
}): PubSubTransport {
  // A commit's messages are published in one tick: auto-pipelining sends them in one write.
  const publisher = new Redis(opts.url, {
    ...baseConnectionOptions(`huddle-pub-${opts.nodeId}`, opts.credentials),
    enableAutoPipelining: true,
  });
  const subscriber = new Redis(opts.url, {
    ...baseConnectionOptions(`huddle-sub-${opts.nodeId}`, opts.credentials),
    // The bus re-subscribes its own set after a reconnect, so it learns when that is done (see redis-bus.ts).
    autoResubscribe: false,
  });
  watchConnection(publisher, 'publisher', opts.logger);
  watchConnection(subscriber, 'subscriber', opts.logger);

  return {
    publish: (channel, message) => publisher.publish(channel, message),
    subscribe: (channels) => subscriber.subscribe(...channels),
    unsubscribe: (channels) => subscriber.unsubscribe(...channels),
    ping: () => publisher.ping(),
    isReady: () => publisher.status === 'ready' && subscriber.status === 'ready',
    onMessage(handler) {
      subscriber.on('message', handler);
    },
    onResubscribeNeeded(handler) {
      let connectedBefore = false;
      subscriber.on('ready', () => {
        if (connectedBefore) handler();
        connectedBefore = true;
      });
    },
    reopenSubscriber() {
      // disconnect(true) ends the stream (destroying it if it does not close in 2 s) and reconnects with the usual backoff.
      subscriber.disconnect(true);
    },
    // 'connect': the TCP connection is up and the handshake unanswered, which a frozen flow can stall for good too.
    publisherLooksConnected: () => publisher.status === 'ready' || publisher.status === 'connect',
    reopenPublisher() {
      // Unanswered commands are sent again on the new connection (ioredis's autoResendUnfulfilledCommands).
      publisher.disconnect(true);
    },
    async start() {
      // connect() rejects with a bare "Connection is closed"; the 'error' event before it says why.
      let firstError: Error | undefined;
      const remember = (err: Error) => (firstError ??= err);
      publisher.once('error', remember);
      subscriber.once('error', remember);
      try {
        await Promise.all([publisher.connect(), subscriber.connect()]);
      } catch (err) {
        publisher.disconnect();
        subscriber.disconnect();
        const cause = firstError ?? err;
        // The 'error' event before the rejection says why; the rejection itself only says "Connection is closed".
        // eslint-disable-next-line preserve-caught-error
        throw new Error(`cannot reach Redis for the bus: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      } finally {
        publisher.off('error', remember);
        subscriber.off('error', remember);
      }
    },
    async close() {
      await Promise.all([closeConnection(publisher), closeConnection(subscriber)]);
    },
  };
}
