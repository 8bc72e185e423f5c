import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import type { Bus } from '../domain/fanout/ports.js';
import { createMemoryBus } from '../adapters/memory/memory-bus.js';
import { createRedisBus } from '../adapters/redis/redis-bus.js';
import type { PresenceStore } from '../domain/presence/ports.js';
import { createMemoryPresence } from '../adapters/memory/memory-presence.js';
import { createRedisPresence } from '../adapters/redis/redis-presence.js';

declare module 'fastify' {
  interface FastifyInstance {
    bus: Bus;
    presence: PresenceStore;
  }
}

/**
 * The bus and the presence store: over Redis when `REDIS_URL` is set (any number
 * of instances), in-process otherwise (one instance). Boot fails when Redis is
 * set but cannot be reached. Both close in `onClose`, after the realtime plugin
 * has closed its sockets in `preClose`.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { redis, realtime } = opts.config;
    const logger = app.log.child({ module: 'bus' });
    let bus: Bus;
    let presence: PresenceStore;
    if (redis.url) {
      bus = await createRedisBus({ url: redis.url, keyPrefix: redis.keyPrefix, logger });
      presence = createRedisPresence({
        redis: redis.url,
        keyPrefix: redis.keyPrefix,
        nodeId: bus.nodeId,
        ttlMs: realtime.presenceTtlMs,
        logger: app.log.child({ module: 'presence' }),
      });
    } else {
      bus = createMemoryBus({ logger });
      presence = createMemoryPresence({ ttlMs: realtime.presenceTtlMs, nodeId: bus.nodeId });
    }
    app.decorate('bus', bus);
    app.decorate('presence', presence);
    app.addHook('onClose', async () => {
      const results = await Promise.allSettled([presence.close(), bus.close()]);
      for (const result of results) {
        if (result.status === 'rejected') app.log.warn({ err: result.reason }, 'closing the bus or presence store failed');
      }
    });
  },
  { name: 'bus' },
);
