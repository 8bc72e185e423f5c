import type { FastifyPluginAsync } from 'fastify';
import type { LevelWithSilent } from 'pino';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { tablesReachable } from '../../adapters/dynamodb/tables-admin.js';

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);

/** `/healthz`: the process is alive. `/readyz`: DynamoDB, S3 and the bus answer; 503 names what failed. */
const healthRoutes: FastifyPluginAsync = async (app) => {
  // Probes come every few seconds: keep their request lines out of an info log, never louder than the app.
  const logLevel = (['trace', 'debug', 'info'].includes(app.log.level) ? 'warn' : app.log.level) as LevelWithSilent;
  app.get('/healthz', { logLevel, config: { rateLimit: false } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel, config: { rateLimit: false } }, async (request, reply) => {
    const checks = {
      dynamodb: () => tablesReachable(app.store.raw, app.store.tables),
      s3: async () => {
        await app.blob.s3.send(new HeadBucketCommand({ Bucket: app.blob.bucket }));
      },
      bus: () => app.bus.ping(),
    };
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          return [name, 'ok'] as const;
        } catch (err) {
          request.log.warn({ err, dependency: name }, 'readiness check failed');
          return [name, 'failed'] as const;
        }
      }),
    );
    const failed = results.filter(([, status]) => status !== 'ok').map(([name]) => name);
    return reply.status(failed.length ? 503 : 200).send({ status: failed.length ? 'unavailable' : 'ready', failed, checks: Object.fromEntries(results) });
  });
};

export default healthRoutes;
