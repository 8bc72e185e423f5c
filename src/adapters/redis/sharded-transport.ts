/**
 * The bus's transport on a Redis Cluster with sharded pub/sub (Redis 7+):
 * SPUBLISH goes to the shard that owns the channel's slot, and ioredis keeps one
 * subscribing connection per shard (`shardedSubscribers`). Channels of
 * different slots cannot share one SSUBSCRIBE, so each goes on its own.
 *
 * When a shard's subscribing connection drops, ioredis refreshes the topology,
 * replaces the connection, re-issues the SSUBSCRIBEs without reporting their
 * outcome, and emits `subscribersReady`. The bus then SSUBSCRIBEs its whole set
 * again (a repeat is harmless) and waits for every answer before it reports
 * the recovery.
 */
import { Cluster, type ClusterOptions } from 'ioredis';
import type { Logger } from '../../domain/logger.js';
import { closeConnection, clusterConnectionOptions, type RedisCredentials } from './connection.js';
import type { PubSubTransport } from './standalone-transport.js';

export function createShardedTransport(opts: {
  url: string;
  credentials?: RedisCredentials | undefined;
  nodeId: string;
  logger: Logger;
}): PubSubTransport {
  const target = { url: opts.url, cluster: true, credentials: opts.credentials };
  const cluster = (name: string, extra: Partial<ClusterOptions> = {}) => {
    const { startNodes, options } = clusterConnectionOptions(target, name);
    return new Cluster(startNodes, { ...options, ...extra });
  };
  const publisher = cluster(`huddle-pub-${opts.nodeId}`);
  const subscriber = cluster(`huddle-sub-${opts.nodeId}`, { shardedSubscribers: true });

  for (const [client, role] of [
    [publisher, 'publisher'],
    [subscriber, 'subscriber'],
  ] as const) {
    client.on('error', (err: Error) => opts.logger.warn({ err, connection: role }, 'Redis Cluster error'));
    client.on('node error', (err: Error, node: string) => opts.logger.warn({ err, node, connection: role }, 'Redis Cluster node error'));
  }
  // A shard subscriber's errors arrive under their own name; without a listener they would go unseen.
  subscriber.on('nodeError', (err: Error, node: string) =>
    opts.logger.warn({ err, node, connection: 'shard subscriber' }, 'Redis Cluster shard subscriber error'),
  );

  let started = false;

  return {
    publish: (channel, message) => publisher.spublish(channel, message),
    subscribe: (channels) => Promise.all(channels.map((channel) => subscriber.ssubscribe(channel))),
    unsubscribe: (channels) => Promise.all(channels.map((channel) => subscriber.sunsubscribe(channel))),
    ping: () => publisher.ping(),
    isReady: () => publisher.status === 'ready' && subscriber.status === 'ready',
    onMessage(handler) {
      subscriber.on('smessage', handler);
    },
    onResubscribeNeeded(handler) {
      // The first `subscribersReady` events belong to the initial connect, before `start` resolved.
      subscriber.on('subscribersReady', () => {
        if (started) handler();
      });
    },
    reopenSubscriber() {
      // The whole cluster client reconnects: every shard's subscriber is replaced, then `subscribersReady`.
      subscriber.disconnect(true);
    },
    // 'connect': the TCP connection is up and the handshake unanswered, which a frozen flow can stall for good too.
    publisherLooksConnected: () => publisher.status === 'ready' || publisher.status === 'connect',
    reopenPublisher() {
      publisher.disconnect(true);
    },
    async start() {
      try {
        await Promise.all([publisher.connect(), subscriber.connect()]);
        started = true;
      } catch (err) {
        publisher.disconnect();
        subscriber.disconnect();
        throw new Error(`cannot reach the Redis Cluster for the bus: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
    },
    async close() {
      await Promise.all([publisher, subscriber].map(closeConnection));
    },
  };
}
