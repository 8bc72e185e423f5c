/**
 * Throwaway `redis-server` processes for tests that must stop and restart Redis
 * (or need a cluster), which the shared Redis at REDIS_URL cannot be used for.
 * The processes are managed by src/local/redis-server.ts (shared with the scripts).
 */
import { randomBytes } from 'node:crypto';

export { freePort } from '../../src/local/free-ports.js';
export {
  redisServerUnavailable,
  startRedisCluster,
  startRedisServer,
  type RedisCluster,
  type RedisServer,
} from '../../src/local/redis-server.js';

export function uniquePrefix(label: string): string {
  return `${label}${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
}
