import type { FastifyPluginAsync } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { BusNotReadyError } from '../../domain/fanout/ports.js';
import type { ServingHealth } from './serving-health.js';

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

/** How long one dependency may take to answer the readiness probe. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthRoutesOptions {
  /** Whether this instance should get traffic (`/healthz`). */
  serving: Pick<ServingHealth, 'verdict'>;
  /** Each resolves when its dependency answers, by name (`dynamodb`, `s3`, `bus`). */
  readiness: Record<string, () => Promise<void>>;
}

/**
 * `/healthz`, for the load balancer: 503 only when this instance should get no traffic
 * (draining, event loop stalled); it never asks a dependency. `/readyz`, for operators
 * and the deploy check: every dependency answers; 503 names what failed and, when the
 * check knows it (a stuck bus subscription), why (`reasons`).
 */
const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { serving, readiness }) => {
  // Probes come every few seconds: keep their request lines out of an info log, never louder than the app.
  const logLevel = (['trace', 'debug', 'info'].includes(app.log.level) ? 'warn' : app.log.level) as LevelWithSilent;
  app.get('/healthz', { logLevel, config: { rateLimit: false } }, async (_request, reply) => {
    const verdict = serving.verdict();
    if (verdict.serving) return { status: 'ok' };
    const details = verdict.reason === 'event_loop_stalled' ? { eventLoopDelayMs: verdict.eventLoopDelayMs } : {};
    return reply.status(503).send({ status: verdict.reason, ...details });
  });

  app.get('/readyz', { logLevel, config: { rateLimit: false } }, async (request, reply) => {
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, 'ok', undefined] as const;
        } catch (err) {
          request.log.warn({ err, dependency: name }, 'readiness check failed');
          return [name, 'failed', err instanceof BusNotReadyError ? err.reason : undefined] as const;
        }
      }),
    );
    const failed = results.filter(([, status]) => status !== 'ok').map(([name]) => name);
    const reasons = Object.fromEntries(results.flatMap(([name, , reason]) => (reason ? [[name, reason]] : [])));
    return reply.status(failed.length ? 503 : 200).send({
      status: failed.length ? 'unavailable' : 'ready',
      failed,
      checks: Object.fromEntries(results.map(([name, status]) => [name, status])),
      ...(Object.keys(reasons).length ? { reasons } : {}),
    });
  });
};

export default healthRoutes;
