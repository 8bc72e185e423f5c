/**
 * How huddle's Redis connections behave when Redis goes away: backoff, how long
 * commands wait offline, quiet error logging, closing without hanging. Shared
 * by the bus transports, the presence store, the sequencer and the rate limits.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../../domain/logger.js';

/**
 * Reconnect backoff: 100 ms doubling to 2 s, with jitter so instances that lost
 * the same Redis do not all come back in the same millisecond.
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** (attempt - 1), 2000) + Math.floor(Math.random() * 100);
}

/**
 * Commands issued while Redis is away wait in ioredis's offline queue for this
 * many reconnect attempts (about 5 s with `reconnectDelay`), then fail: a socket
 * that is opening gets an error instead of waiting for Redis indefinitely.
 */
export const OFFLINE_RETRIES = 5;

/**
 * What a connection needs besides its URL: the AUTH token, which comes from a secret
 * and so never sits in the URL, and TLS (ElastiCache with in-transit encryption).
 */
export interface RedisCredentials {
  password?: string | undefined;
  tls?: boolean | undefined;
}

export function baseConnectionOptions(name: string, credentials: RedisCredentials = {}): RedisOptions {
  return {
    lazyConnect: true,
    connectionName: name,
    retryStrategy: reconnectDelay,
    maxRetriesPerRequest: OFFLINE_RETRIES,
    ...(credentials.password ? { password: credentials.password } : {}),
    ...(credentials.tls ? { tls: {} } : {}),
  };
}

/** Where a command connection goes: one Redis (or a primary), or any node of a Redis Cluster. */
export interface RedisTarget {
  /** `redis://` or `rediss://`; for a cluster, the seed node the topology is read from. */
  url: string;
  cluster: boolean;
  credentials?: RedisCredentials | undefined;
}

export interface CommandConnectionOptions {
  /** Commands wait for a lost connection (up to `OFFLINE_RETRIES`) instead of failing at once. @default true */
  enableOfflineQueue?: boolean;
  /** Commands of one event-loop turn go out in one write (per node on a cluster). @default false */
  enableAutoPipelining?: boolean;
}

/**
 * Options for a cluster client seeded from a URL. Credentials in the URL count as
 * for a single Redis; the AUTH token wins over a URL password. With TLS the node
 * addresses the cluster reports are used as they are (no DNS lookup), which is what
 * ElastiCache's certificates are issued for.
 */
export function clusterConnectionOptions(
  target: RedisTarget,
  name: string,
  extra: CommandConnectionOptions = {},
): { startNodes: { host: string; port: number }[]; options: ClusterOptions } {
  const seed = new URL(target.url);
  const tls = target.credentials?.tls || seed.protocol === 'rediss:';
  const password = target.credentials?.password ?? (seed.password ? decodeURIComponent(seed.password) : undefined);
  return {
    startNodes: [{ host: seed.hostname, port: Number(seed.port || 6379) }],
    options: {
      lazyConnect: true,
      clusterRetryStrategy: reconnectDelay,
      ...extra,
      ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
      redisOptions: {
        connectionName: name,
        maxRetriesPerRequest: OFFLINE_RETRIES,
        ...(seed.username ? { username: decodeURIComponent(seed.username) } : {}),
        ...(password ? { password } : {}),
        ...(tls ? { tls: {} } : {}),
      },
    },
  };
}

/**
 * A command connection (never a subscriber) to a single Redis or a Redis Cluster,
 * not connected yet (`lazyConnect`). The caller owns it: `closeConnection` ends it.
 */
export function openCommandConnection(target: RedisTarget, name: string, extra: CommandConnectionOptions = {}): Redis | Cluster {
  if (target.cluster) {
    const { startNodes, options } = clusterConnectionOptions(target, name, extra);
    return new Cluster(startNodes, options);
  }
  return new Redis(target.url, { ...baseConnectionOptions(name, target.credentials), ...extra });
}

/** How long a QUIT may wait for Redis's answer before the connection is simply dropped. */
const QUIT_TIMEOUT_MS = 2000;

/**
 * Closes a connection politely when it is up, at once when it is not (QUIT would wait
 * in the offline queue). A connection that looks up and answers nothing (a frozen flow)
 * is dropped after `QUIT_TIMEOUT_MS`: shutting down never waits on it.
 */
export async function closeConnection(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('QUIT unanswered')), QUIT_TIMEOUT_MS);
      }),
    ]);
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Logs connection errors without flooding: while Redis is down, every reconnect
 * attempt fails the same way, so only a change of error is a warning.
 */
export function watchConnection(client: Redis | Cluster, role: string, log: Logger): void {
  let lastError = '';
  const report = (err: Error, node?: string) => {
    const summary = `${node ?? ''} ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`;
    if (summary === lastError) {
      log.debug({ err, node, connection: role }, 'Redis connection error (repeated)');
      return;
    }
    lastError = summary;
    log.warn({ err, node, connection: role }, 'Redis connection error');
  };
  client.on('error', (err: Error) => report(err));
  // A cluster reports each node's connection errors on their own, naming the node.
  if (client instanceof Cluster) client.on('node error', (err: Error, node: string) => report(err, node));
  let everReady = false;
  client.on('ready', () => {
    lastError = '';
    everReady = true;
  });
  client.on('close', () => {
    if (everReady && client.status !== 'end') log.warn({ connection: role }, 'lost the connection to Redis; reconnecting');
  });
}
