import type { FastifyPluginAsync } from 'fastify';
import type { LevelWithSilent } from 'pino';

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

/** How long one dependency may take to answer the readiness probe. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthRoutesOptions {
  /** Each resolves when its dependency answers, by name (`dynamodb`, `s3`, `bus`). */
  readiness: Record<string, () => Promise<void>>;
}

/** `/healthz`: the process is alive. `/readyz`: every dependency answers; 503 names what failed. */
const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { readiness }) => {
  // Probes come every few seconds: keep their request lines out of an info log, never louder than the app.
  const logLevel = (['trace', 'debug', 'info'].includes(app.log.level) ? 'warn' : app.log.level) as LevelWithSilent;
  app.get('/healthz', { logLevel, config: { rateLimit: false } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel, config: { rateLimit: false } }, async (request, reply) => {
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (err) {
          request.log.warn({ err, dependency: name }, 'readiness check failed');
          return [name, 'failed'] as const;
        }
      }),
    );
    const failed = results.filter(([, status]) => status !== 'ok').map(([name]) => name);
    return reply
      .status(failed.length ? 503 : 200)
      .send({ status: failed.length ? 'unavailable' : 'ready', failed, checks: Object.fromEntries(results) });
  });
};

export default healthRoutes;
