/**
 * How huddle's Redis connections behave when Redis goes away: backoff, how long
 * commands wait offline, quiet error logging, closing without hanging. Shared
 * by the bus transports and the presence store.
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
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

/** Closes a connection politely when it is up, at once when it is not (QUIT would wait in the offline queue). */
export async function closeConnection(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * Logs connection errors without flooding: while Redis is down, every reconnect
 * attempt fails the same way, so only a change of error is a warning.
 */
export function watchConnection(client: Redis, role: string, log: Logger): void {
  let lastError = '';
  client.on('error', (err: Error) => {
    const summary = `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`;
    if (summary === lastError) {
      log.debug({ err, connection: role }, 'Redis connection error (repeated)');
      return;
    }
    lastError = summary;
    log.warn({ err, connection: role }, 'Redis connection error');
  });
  let everReady = false;
  client.on('ready', () => {
    lastError = '';
    everReady = true;
  });
  client.on('close', () => {
    if (everReady && client.status !== 'end') log.warn({ connection: role }, 'lost the connection to Redis; reconnecting');
  });
}
