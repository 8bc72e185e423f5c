/**
 * buildApp(config, services) adapts the composed services to Fastify and never
 * listens (server.ts does). Plugins decorate and manage lifecycle only; routes and
 * the gateway receive the services they use. Boot order: infrastructure plugins,
 * then routes. Closing the app closes the services (after the sockets).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { filesOrigin, type Config } from './config.js';
import type { Services } from './compose.js';
import errorHandler from './transport/http/error-handler.js';
import { safeIntegerKeyword } from './transport/http/safe-integer-keyword.js';
import sessionAuth from './transport/http/session-auth.js';
import rateLimit from './transport/http/rate-limit.js';
import sameOrigin from './transport/http/same-origin.js';
import staticFiles from './transport/http/static.js';
import healthRoutes from './transport/http/health-routes.js';
import { ServingHealth } from './transport/http/serving-health.js';
import authRoutes from './transport/http/auth-routes.js';
import apiRoutes from './transport/http/api-routes.js';
import realtime from './transport/realtime/realtime-plugin.js';
import { createSignInService } from './domain/sessions/sign-in-service.js';

/** Largest HTTP request body: JSON requests are small (uploads go straight to S3). */
const BODY_LIMIT_BYTES = 64 * 1024;

export interface BuildOptions {
  /** Where the built page is (default dist/public); tests serve one they built themselves. */
  pageDir?: string;
}

export async function buildApp(config: Config, services: Services, options: BuildOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = services.logger;
  const trustedHops = config.http.trustProxy;
  const app = Fastify({
    loggerInstance: logger,
    // Exactly the configured hops (a function: Fastify's types do not take a count).
    trustProxy: trustedHops === false ? false : (_address: string, hop: number) => hop < trustedHops,
    // Behind the ALB a request id may already exist; otherwise make one.
    requestIdHeader: 'x-amzn-trace-id',
    genReqId: () => randomUUID(),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: true,
    ajv: { plugins: [safeIntegerKeyword] },
  });
  const serving = new ServingHealth({ stallThresholdMs: config.http.eventLoopStallMs });
  app.decorate('serving', serving);
  // onClose hooks run after preClose (where the realtime plugin closes the sockets).
  app.addHook('onClose', async () => {
    serving.close();
    await services.close();
  });

  const cookies = { secure: config.http.secureCookies };
  await app.register(errorHandler, { metrics: services.metrics });
  await app.register(sameOrigin, { publicOrigin: config.http.publicOrigin });
  await app.register(rateLimit, {
    perMinute: config.http.rateLimitPerMinute,
    redis: services.sharedCounters,
    keyPrefix: config.redis.keyPrefix,
    metrics: services.metrics,
  });
  await app.register(sessionAuth, { sessions: services.sessions, secret: config.session.secret!, cookies });

  await app.register(healthRoutes, { serving, readiness: services.readiness });
  const signIn = createSignInService({
    provider: services.identity.client,
    verifier: services.identity.verifier,
    users: services.users,
    sessions: services.sessions,
    events: services.events,
    premiumGroup: config.identity.premiumGroup,
    log: services.logger,
  });
  await app.register(authRoutes, {
    signIn,
    quotas: services.quotas,
    cookies,
    publicOrigin: config.http.publicOrigin,
    sessionMaxAgeS: config.session.absoluteTimeoutS,
  });
  await app.register(apiRoutes, { prefix: '/api', chats: services.chats, messages: services.messages, files: services.files });
  await app.register(realtime, {
    settings: config.realtime,
    limits: {
      messageMaxLength: config.chats.messageMaxLength,
      fileMaxBytes: config.files.maxBytes,
      fileTypes: config.files.allowedTypes,
      groupMaxMembers: config.chats.groupMaxMembers,
    },
    bus: services.bus,
    events: services.events,
    chats: services.chats,
    messages: services.messages,
    quotas: services.quotas,
    users: services.users,
    presence: services.presence,
    sessions: services.sessions,
    serving,
    metrics: services.metrics,
  });
  await app.register(staticFiles, {
    secure: config.http.secureCookies,
    origins: { self: config.http.publicOrigin, files: filesOrigin(config) },
    ...(options.pageDir ? { root: options.pageDir } : {}),
  });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether this instance should get traffic (draining, event loop); `/healthz` reports it. */
    serving: ServingHealth;
  }
}
