/**
 * buildApp(config) assembles the service and never listens (server.ts does).
 * Boot order: infrastructure, then services, then routes.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Config } from './config.js';
import { loggerOptions } from './logger.js';
import awsPlugin from './plugins-old/aws.js';
import busPlugin from './plugins-old/bus.js';
import authPlugin from './transport/http/session-auth.js';
import servicesPlugin from './plugins-old/services.js';
import errorHandlerPlugin from './transport/http/error-handler.js';
import rateLimitPlugin from './transport/http/rate-limit.js';
import staticPlugin from './transport/http/static.js';
import healthRoutes from './transport/http/health-routes.js';
import authRoutes from './transport/http/auth-routes.js';
import apiRoutes from './transport/http/api-routes.js';
import realtimePlugin from './transport/realtime/realtime-plugin.js';

export async function buildApp(config: Config): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config),
    trustProxy: config.http.trustProxy,
    // Behind the ALB a request id may already exist; otherwise make one.
    requestIdHeader: 'x-amzn-trace-id',
    genReqId: () => randomUUID(),
    bodyLimit: 64 * 1024,
    forceCloseConnections: true,
  });

  await app.register(awsPlugin, { config });
  await app.register(busPlugin, { config });
  await app.register(errorHandlerPlugin);
  await app.register(authPlugin, { config });
  await app.register(rateLimitPlugin, { config });
  await app.register(servicesPlugin, { config });

  await app.register(healthRoutes);
  await app.register(authRoutes, { config });
  await app.register(apiRoutes, { prefix: '/api' });
  await app.register(realtimePlugin, { config });
  await app.register(staticPlugin);
  return app;
}
