import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import type { Metrics } from '../../domain/metrics.js';
import { sessionCookieName } from './session-cookie.js';

/**
 * HTTP request budget per client per instance (in memory: the limit protects the
 * instance, it is not a quota). A signed-in browser is keyed by its session, so
 * people behind one address do not share a budget; anyone else by address.
 */
export default fp(
  async (app, opts: { config: Config; metrics: Pick<Metrics, 'rateLimited'> }) => {
    const cookieName = sessionCookieName({ secure: opts.config.http.secureCookies });
    await app.register(rateLimit, {
      max: opts.config.http.rateLimitPerMinute,
      timeWindow: 60_000,
      onExceeded: () => opts.metrics.rateLimited('http'),
      keyGenerator: (request: FastifyRequest) => {
        const session = request.cookies?.[cookieName];
        return session ? `s:${createHash('sha256').update(session).digest('base64url').slice(0, 22)}` : `ip:${request.ip}`;
      },
    });
  },
  { name: 'rate-limit', dependencies: ['session-auth'] },
);
