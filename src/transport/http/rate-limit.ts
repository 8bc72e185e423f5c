/**
 * HTTP request budgets that hold across the fleet and cannot be sidestepped.
 *
 * - Every request counts once, after authentication (`preHandler`): against its
 *   session when the session checked out, else against the client's address. A
 *   cookie that opens no session buys nothing: it counts as the address.
 * - The address is the one the load balancer saw: Fastify trusts exactly the
 *   configured number of proxy hops (`TRUST_PROXY`), never the left-most
 *   `X-Forwarded-For` a client can write.
 * - Failed authentications are counted per address too, and an address past its
 *   budget is refused before its cookie costs a session read.
 * - With Redis (`REDIS_URL`) the counters live there, so N instances allow the
 *   limit once, not N times; without Redis they are in memory (one instance).
 *   A Redis failure lets requests through rather than failing them.
 */
import fp from 'fastify-plugin';
import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { rateLimited } from '../../model/index.js';
import type { Metrics } from '../../domain/metrics.js';
import { sendSignInError } from './error-handler.js';

export interface RateLimitSettings {
  perMinute: number;
  /** An ioredis client for shared counters, or undefined for in-memory ones. */
  redis: RateLimitPluginOptions['redis'];
  /** Prefix of the counters' Redis keys. */
  keyPrefix: string;
  metrics: Pick<Metrics, 'rateLimited'>;
}

const WINDOW_MS = 60_000;

/** Guards the session read that a cookie costs. */
export interface AuthenticationBudget {
  /** Answers 429 and resolves true when this address has failed too often to try again now. */
  refuseIfExhausted(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** Counts one failed authentication against the address. */
  countFailure(request: FastifyRequest): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticationBudget: AuthenticationBudget;
  }
}

const byAddress = (request: FastifyRequest) => `a:${request.ip}`;

export default fp<RateLimitSettings>(
  async (app, settings) => {
    await app.register(rateLimit, {
      max: settings.perMinute,
      timeWindow: WINDOW_MS,
      hook: 'preHandler',
      ...(settings.redis ? { redis: settings.redis, nameSpace: `${settings.keyPrefix}rate:` } : {}),
      skipOnError: true,
      onExceeded: () => settings.metrics.rateLimited('http'),
      keyGenerator: (request: FastifyRequest) => (request.user ? `s:${request.user.sessionHash}` : byAddress(request)),
    });
    const failures = app.createRateLimit({ max: settings.perMinute, timeWindow: WINDOW_MS, keyGenerator: (r) => `f:${r.ip}` });
    app.decorate('authenticationBudget', {
      async refuseIfExhausted(request, reply) {
        const state = await failures(request, { increment: false });
        // Read without counting: `remaining` is what is left of the address's failure budget.
        if (state.isAllowed || state.remaining > 0) return false;
        settings.metrics.rateLimited('http');
        sendSignInError(request, reply, rateLimited('Too many failed sign-ins from this address; wait a minute'));
        return true;
      },
      async countFailure(request) {
        await failures(request);
      },
    } satisfies AuthenticationBudget);
  },
  { name: 'rate-limit' },
);
