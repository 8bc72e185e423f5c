/**
 * The composition root: builds every client, adapter and service from the frozen
 * Config and returns them as one plain object with one `close()`. The only module
 * that knows which adapter serves which port (Redis or in-process, DynamoDB, S3,
 * Cognito or the local provider). `app.ts` adapts the result to Fastify.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger as PinoLogger } from 'pino';
import type { Config } from './config.js';
import { loggerOptions } from './logger.js';
import type { Bus } from './domain/fanout/ports.js';
import type { EventPublisher } from './domain/events/ports.js';
import type { PresenceStore } from './domain/presence/ports.js';
import { createChatsService, type ChatsService } from './domain/chats/chats-service.js';
import { createMessagesService, type MessagesService } from './domain/messages/messages-service.js';
import { createQuotasService, type QuotasService } from './domain/quotas/quotas-service.js';
import { createFilesService, type FilesService } from './domain/files/files-service.js';
import { createPendingSweeper } from './domain/files/pending-sweeper.js';
import { createPresenceService, type PresenceService } from './domain/presence/presence-service.js';
import { createSessionService, type SessionService } from './domain/sessions/session-service.js';
import { createDynamoClient } from './adapters/dynamodb/client.js';
import { documentsOver } from './adapters/dynamodb/document.js';
import { tableNames } from './adapters/dynamodb/table.js';
import { tablesReachable } from './adapters/dynamodb/tables-admin.js';
import { createChatsRepository } from './adapters/dynamodb/chats-repository.js';
import { createMessageLog } from './adapters/dynamodb/message-log.js';
import { createQuotasRepository } from './adapters/dynamodb/quotas-repository.js';
import { createSessionsRepository } from './adapters/dynamodb/sessions-repository.js';
import { createUsersRepository } from './adapters/dynamodb/users-repository.js';
import { createS3Client } from './adapters/s3/client.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './adapters/metrics/prometheus-metrics.js';
import { reportCalls } from './adapters/metrics/sdk-call-metrics.js';
import { createS3BlobStore } from './adapters/s3/s3-blob-store.js';
import { createRedisBus } from './adapters/redis/redis-bus.js';
import { createRedisPresence } from './adapters/redis/redis-presence.js';
import { createMemoryBus } from './adapters/memory/memory-bus.js';
import { createMemoryPresence } from './adapters/memory/memory-presence.js';
import { createMemorySequencer } from './adapters/memory/memory-sequencer.js';
import { createRedisSequencer } from './adapters/redis/redis-sequencer.js';
import { closeConnection, openCommandConnection, watchConnection } from './adapters/redis/connection.js';
import { createMessageWriter, type MessageWriter } from './domain/messages/message-writer.js';
import { createChatActivityRecorder } from './domain/messages/chat-activity.js';
import type { Sequencer } from './domain/messages/ports.js';
import { createFailoverSequencer } from './domain/messages/failover-sequencer.js';
import { createRowSequencer } from './adapters/dynamodb/row-sequencer.js';
import type { Cluster, Redis } from 'ioredis';
import { createOidcClient, type OidcClient, type OidcSettings } from './adapters/identity/oidc-client.js';
import { createTokenVerifier, type TokenVerifier, type VerifierSettings } from './adapters/identity/token-verifier.js';
import { createTokenRefresher } from './adapters/identity/token-refresher.js';
import type { UsersRepository } from './domain/users/ports.js';
import { createBusEventPublisher } from './transport/realtime/event-frames.js';
import type { FanoutFrame } from './transport/realtime/protocol.js';

/** S3 lets a presigned PUT live 7 days; uploads get 5 minutes and downloads 15. */
const UPLOAD_URL_TTL_S = 300;
const DOWNLOAD_URL_TTL_S = 900;
/** Locally, uploads never sent are removed after this long (S3's lifecycle rule does it on AWS). */
const LOCAL_PENDING_MAX_AGE_MS = 15 * 60_000;
const LOCAL_SWEEP_INTERVAL_MS = 5 * 60_000;

export interface Identity {
  client: OidcClient;
  verifier: TokenVerifier;
}

export interface Services {
  config: Config;
  logger: PinoLogger;
  /** This instance's id: in every bus envelope and presence record. */
  nodeId: string;
  bus: Bus<FanoutFrame>;
  events: EventPublisher;
  users: UsersRepository;
  chats: ChatsService;
  messages: MessagesService;
  quotas: QuotasService;
  files: FilesService;
  presence: PresenceService;
  /** The group-commit queue of this instance (its figures feed the metrics). */
  writer: MessageWriter;
  /** This instance's figures; served on the metrics listener, never the public one. */
  metrics: PrometheusMetrics;
  sessions: SessionService;
  identity: Identity;
  /**
   * Redis for counters every instance shares (HTTP rate limits), undefined without
   * Redis. It fails at once while Redis is away instead of queueing.
   */
  sharedCounters: Redis | Cluster | undefined;
  /** What `/readyz` asks, by name: each resolves when that dependency answers. */
  readiness: Record<string, () => Promise<void>>;
  /** Stops background work and closes every client; call after the sockets are closed. */
  close(): Promise<void>;
}

export function oidcSettingsFrom(config: Config): OidcSettings {
  const clientId = config.identity.clientId;
  if (!clientId) throw new Error('COGNITO_CLIENT_ID is not set: sign-in needs the app client id');
  const issuer =
    config.mode === 'aws'
      ? `https://cognito-idp.${config.aws.region}.amazonaws.com/${config.identity.userPoolId}`
      : config.identity.localIssuer;
  if (!issuer) throw new Error('OIDC_ISSUER is not set: local sign-in needs the local identity provider');
  const logoutOrigin = config.mode === 'aws' ? config.identity.domain : issuer;
  if (!logoutOrigin) throw new Error('COGNITO_DOMAIN is not set: sign-out needs the hosted UI domain');
  return {
    issuer,
    clientId,
    clientSecret: config.identity.clientSecret,
    redirectUri: `${config.http.publicOrigin}/authorize`,
    logoutOrigin,
    logoutUri: `${config.http.publicOrigin}/`,
    allowHttp: config.mode === 'local' && issuer.startsWith('http:'),
  };
}

export function verifierSettingsFrom(config: Config): VerifierSettings {
  return {
    mode: config.mode,
    clientId: config.identity.clientId ?? '',
    userPoolId: config.identity.userPoolId,
    issuer: config.identity.localIssuer,
  };
}

async function createFanout(
  config: Config,
  nodeId: string,
  logger: PinoLogger,
  metrics: PrometheusMetrics,
): Promise<{ bus: Bus<FanoutFrame>; presence: PresenceStore }> {
  const { redis, realtime } = config;
  if (!redis.url) {
    return {
      bus: createMemoryBus<FanoutFrame>({ nodeId, logger: logger.child({ module: 'bus' }) }),
      presence: createMemoryPresence({ ttlMs: realtime.presenceTtlMs, nodeId }),
    };
  }
  // Boot fails here when Redis is set but cannot be reached.
  const bus = await createRedisBus<FanoutFrame>({
    url: redis.url,
    credentials: redis.credentials,
    keyPrefix: redis.keyPrefix,
    nodeId,
    logger: logger.child({ module: 'bus' }),
    sharded: redis.cluster,
    probeIntervalMs: redis.busProbeIntervalMs,
    metrics,
  });
  const presence = createRedisPresence({
    redis: redis.url,
    cluster: redis.cluster,
    credentials: redis.credentials,
    keyPrefix: redis.keyPrefix,
    nodeId,
    ttlMs: realtime.presenceTtlMs,
    logger: logger.child({ module: 'presence' }),
  });
  return { bus, presence };
}

/** The per-chat seq counters: in Redis when several instances share one, in memory otherwise. */
async function createSequencer(
  config: Config,
  fallback: Sequencer,
  logger: PinoLogger,
): Promise<{ sequencer: Sequencer; redis: Redis | Cluster | undefined; close(): Promise<void> }> {
  const { url, cluster, credentials } = config.redis;
  if (!url) return { sequencer: createMemorySequencer(), redis: undefined, close: async () => {} };
  // Fails at once while Redis is away (no offline queue), so sends fall back without waiting.
  // A commit asks for every chat's seqs in one tick: auto-pipelining sends them in one write (one per node on a cluster).
  const redis = openCommandConnection({ url, cluster, credentials }, 'huddle-seq', {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
  });
  watchConnection(redis, 'sequencer', logger.child({ module: 'sequencer' }));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis for the sequencer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const sequencer = createFailoverSequencer(createRedisSequencer(redis, config.redis.keyPrefix), fallback, logger);
  return { sequencer, redis, close: () => closeConnection(redis) };
}

/** Builds everything the app serves from; `logger` defaults to a pino logger made from the config. */
export async function compose(config: Config, logger: PinoLogger = pino(loggerOptions(config))): Promise<Services> {
  if (!config.session.secret) throw new Error('SESSION_SECRET is not set: it signs the login cookie');
  const clock = () => Date.now();
  const nodeId = randomBytes(8).toString('hex');
  const onBackgroundError = (err: unknown, what: string) => logger.error({ err }, `${what} failed`);

  const metrics = createPrometheusMetrics();
  const raw = createDynamoClient({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  reportCalls(raw, 'dynamodb', metrics);
  const db = documentsOver(raw);
  const tables = tableNames(config.tables.prefix);
  const s3 = createS3Client({ region: config.aws.region, endpoint: config.aws.s3Endpoint });
  reportCalls(s3, 's3', metrics);
  const blob = createS3BlobStore(s3, config.files.bucket);
  const closeClients = () => {
    raw.destroy();
    s3.destroy();
  };

  let fanout: Awaited<ReturnType<typeof createFanout>>;
  let seqs: Awaited<ReturnType<typeof createSequencer>>;
  try {
    fanout = await createFanout(config, nodeId, logger, metrics);
  } catch (err) {
    closeClients();
    throw err;
  }
  const { bus, presence: presenceStore } = fanout;
  try {
    seqs = await createSequencer(config, createRowSequencer(db, tables.chats), logger);
  } catch (err) {
    await Promise.allSettled([bus.close(), presenceStore.close()]);
    closeClients();
    throw err;
  }
  const { sequencer } = seqs;
  const events = createBusEventPublisher(bus);

  const users = createUsersRepository(db, tables.users);
  const chatsRepository = createChatsRepository(db, tables);
  const messageLog = createMessageLog(db, tables);
  /** Nothing at or below this may be handed out again for the chat: what is stored, and what clients were told. */
  const seqFloor = async (chatId: string) => {
    const [stored, row] = await Promise.all([messageLog.highestSeq(chatId), chatsRepository.get(chatId)]);
    return Math.max(stored, row?.lastSeq ?? 0);
  };
  const chats = createChatsService({
    chats: chatsRepository,
    users,
    events,
    groupMaxMembers: config.chats.groupMaxMembers,
    clock,
    seqCeiling: async (chatId) => (await sequencer.current([chatId])).get(chatId) ?? (await seqFloor(chatId)),
  });
  const quotas = createQuotasService({ repository: createQuotasRepository(db, tables.users), limits: config.quotas, clock, events });
  const chatActivity = createChatActivityRecorder({
    chats: chatsRepository,
    intervalMs: config.writes.chatRowIntervalMs,
    clock,
    logger,
  });
  const writer = createMessageWriter({
    log: messageLog,
    sequencer,
    seqFloor,
    limits: config.quotas,
    settings: config.writes,
    clock,
    logger,
    onCommitted: (stored) => {
      metrics.messagesPersisted(stored.length);
      chatActivity.record(stored);
    },
  });
  const files = createFilesService({
    blob,
    quotas,
    isMember: (chatId, userId) => chats.isMember(chatId, userId),
    policy: {
      maxBytes: config.files.maxBytes,
      allowedTypes: config.files.allowedTypes,
      uploadTtlS: UPLOAD_URL_TTL_S,
      downloadTtlS: DOWNLOAD_URL_TTL_S,
    },
    clock,
    logger,
  });
  const messages = createMessagesService({
    chats: chatsRepository,
    log: messageLog,
    writer,
    sequencer,
    files,
    events,
    messageMaxLength: config.chats.messageMaxLength,
    syncMaxMessages: config.realtime.syncMaxMessages,
    clock,
    onBackgroundError,
  });
  const presence = createPresenceService({
    store: presenceStore,
    events,
    chatIdsOf: (userId) => chatsRepository.chatIdsOf(userId),
    ttlMs: config.realtime.presenceTtlMs,
    onError: onBackgroundError,
  });

  const client = createOidcClient(oidcSettingsFrom(config));
  const verifier = createTokenVerifier(verifierSettingsFrom(config));
  const sessions = createSessionService({
    sessions: createSessionsRepository(db, tables.sessions),
    users,
    policy: { idleTimeoutS: config.session.idleTimeoutS, absoluteTimeoutS: config.session.absoluteTimeoutS },
    log: logger,
    refreshTokens: createTokenRefresher(client, verifier),
  });

  // S3 expires unsent uploads with a lifecycle rule; the local emulator has none, so sweep.
  const sweeper =
    config.mode === 'local'
      ? createPendingSweeper({ blob, olderThanMs: LOCAL_PENDING_MAX_AGE_MS, intervalMs: LOCAL_SWEEP_INTERVAL_MS, logger })
      : undefined;
  sweeper?.start();

  return {
    config,
    logger,
    nodeId,
    bus,
    events,
    users,
    chats,
    messages,
    quotas,
    files,
    presence,
    writer,
    metrics,
    sessions,
    identity: { client, verifier },
    sharedCounters: seqs.redis,
    readiness: {
      dynamodb: () => tablesReachable(raw, tables),
      s3: () => blob.ping(),
      bus: () => bus.ping(),
    },
    async close() {
      await sweeper?.stop();
      // Sends already taken are stored (or answered) before anything they need closes.
      await writer.close();
      await chatActivity.flush();
      const results = await Promise.allSettled([presenceStore.close(), bus.close(), seqs.close()]);
      for (const result of results) {
        if (result.status === 'rejected') logger.warn({ err: result.reason }, 'closing the bus or presence store failed');
      }
      closeClients();
    },
  };
}
