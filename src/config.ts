/**
 * The only module that reads the environment. `parseConfig(env)` validates every
 * variable against one schema and reports every problem at once (naming the
 * variable); `freezeConfig` turns the result, once the local stack has filled in
 * its addresses, into the frozen `Config` passed down to everything else.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

interface VariableSpec<S extends TSchema = TSchema> {
  schema: S;
  description: string;
}

function variable<S extends TSchema>(schema: S, description: string): VariableSpec<S> {
  return { schema, description };
}

const Port = (def: number) => Type.Integer({ minimum: 0, maximum: 65535, default: def });
const Positive = (def: number) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: def });
const Optional = () => Type.Optional(Type.String({ minLength: 1 }));

/**
 * Every environment variable huddle reads, with its default and meaning.
 * `npm run config:table` prints this as the Markdown table in README.md.
 */
export const variables = {
  PORT: variable(Port(3000), 'HTTP port the service listens on.'),
  HOST: variable(Type.String({ default: 'localhost' }), 'Interface to bind (`0.0.0.0` in a container).'),
  PUBLIC_URL: variable(
    Optional(),
    'Origin users open in the browser; default `http://localhost:$PORT`. Sign-in redirects and cookie flags derive from it.',
  ),
  LOG_LEVEL: variable(
    Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
    'pino log level.',
  ),
  TRUST_PROXY: variable(
    Type.String({ pattern: '^(true|false|[0-9])$', default: 'false' }),
    'Proxy hops in front of huddle whose `X-Forwarded-*` is trusted: `false` (none), a count, or `true` (one: the ALB). The client address is the one the outermost trusted hop saw.',
  ),
  METRICS_HOST: variable(
    Type.String({ default: '127.0.0.1' }),
    'Interface of the metrics listener. Loopback by default: the metrics are for a sidecar, never the public.',
  ),
  METRICS_PORT: variable(
    Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    'Port of the metrics listener (`GET /metrics`, Prometheus text), separate from `PORT`. Unset: no metrics listener.',
  ),
  EVENT_LOOP_STALL_MS: variable(
    Positive(1000),
    'Longest event-loop delay (ms) in the last 10 to 20 s that `/healthz` tolerates; past it the instance asks for no traffic (503).',
  ),
  DRAIN_SPREAD_MS: variable(
    Positive(10_000),
    'On SIGTERM, the sockets are closed (1012) spread over this long (ms), so their clients reconnect to other instances gradually.',
  ),
  HTTP_RATE_LIMIT_PER_MINUTE: variable(
    Positive(600),
    'HTTP requests one client (its verified session, else its address) may make per minute; shared by every instance through Redis when `REDIS_URL` is set.',
  ),

  AWS_REGION: variable(Optional(), 'AWS region. Required when `COGNITO_USER_POOL_ID` is set.'),
  TABLE_PREFIX: variable(Type.String({ default: 'huddle-' }), 'Prefix of the four DynamoDB table names.'),
  DYNAMODB_ENDPOINT: variable(Optional(), 'DynamoDB endpoint override (a running DynamoDB Local); locally, skips starting one.'),
  S3_BUCKET: variable(Type.String({ minLength: 3, default: 'huddle-files' }), 'Bucket for shared files.'),
  S3_ENDPOINT: variable(Optional(), 'S3 endpoint override (a running S3 emulator); locally, skips starting one.'),

  COGNITO_USER_POOL_ID: variable(
    Optional(),
    'Cognito user pool id (`region_xxxx`). Setting it switches huddle to AWS mode: no emulators start.',
  ),
  COGNITO_DOMAIN: variable(Optional(), 'Hosted UI origin, e.g. `https://auth.example.com`. Required in AWS mode.'),
  COGNITO_CLIENT_ID: variable(Optional(), 'App client id. Required in AWS mode.'),
  COGNITO_CLIENT_SECRET: variable(Optional(), 'App client secret, if the app client has one (from SSM Parameter Store).'),
  OIDC_ISSUER: variable(Optional(), 'Local mode: issuer URL of an already running local identity provider to join.'),
  PREMIUM_GROUP: variable(Type.String({ default: 'premium' }), 'Cognito group whose members become premium at sign-in.'),

  REDIS_URL: variable(
    Optional(),
    'Redis for the cross-instance bus, presence, seq counters and shared rate limits. Unset: in-process bus (one instance only). With `REDIS_CLUSTER`, any node of the cluster.',
  ),
  REDIS_CLUSTER: variable(
    Type.Boolean({ default: false }),
    '`true` when `REDIS_URL` is a node of a Redis Cluster (ElastiCache cluster mode enabled): the bus uses sharded pub/sub and every other Redis client follows the cluster. Needs Redis 7.',
  ),
  REDIS_AUTH_TOKEN: variable(
    Optional(),
    'AUTH token (password) of the Redis at `REDIS_URL`, kept out of the URL because it comes from a secret. A `rediss://` URL connects over TLS.',
  ),
  REDIS_KEY_PREFIX: variable(
    Type.String({ default: 'huddle:' }),
    'Prefix of every Redis key and channel (one per deployment or test run).',
  ),
  BUS_PROBE_INTERVAL_MS: variable(
    Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    'With `REDIS_URL`: every this many ms each instance publishes a probe to itself through Redis; one not back within it marks the bus subscription stuck: `/readyz` fails with `bus_subscription_stuck` and the subscriber connection is re-opened.',
  ),

  SESSION_SECRET: variable(
    Optional(),
    'Secret (32+ characters) that signs the short-lived login cookie. Required in AWS mode; generated locally.',
  ),
  SESSION_IDLE_TIMEOUT_S: variable(Positive(3 * 24 * 3600), 'A session unused this long (seconds) is over.'),
  SESSION_ABSOLUTE_TIMEOUT_S: variable(Positive(30 * 24 * 3600), 'A session ends this long (seconds) after sign-in, used or not.'),

  WS_ALLOWED_ORIGINS: variable(Optional(), 'Comma-separated exact origins allowed to open `/ws`; default the `PUBLIC_URL` origin.'),
  WS_MAX_SOCKETS_PER_USER: variable(Positive(20), 'Sockets one user may hold open on one instance; past it the upgrade gets 429.'),
  WS_MAX_PAYLOAD_BYTES: variable(Positive(64 * 1024), 'Largest WebSocket frame accepted; larger closes the socket (1009).'),
  WS_PING_INTERVAL_MS: variable(
    Positive(25_000),
    'Server ping interval; a peer that misses one is terminated. Below the ALB idle timeout (60 s).',
  ),
  WS_SEND_SOFT_LIMIT_BYTES: variable(
    Positive(256 * 1024),
    'Past this many buffered bytes a socket stops getting typing and presence events.',
  ),
  WS_SEND_HARD_LIMIT_BYTES: variable(Positive(4 * 1024 * 1024), 'Past this many buffered bytes a socket is closed (4008) and must resync.'),

  MESSAGE_MAX_LENGTH: variable(Positive(4000), 'Longest text message, in characters.'),
  GROUP_MAX_MEMBERS: variable(Positive(50), 'Most members a group chat can have.'),
  SYNC_MAX_MESSAGES: variable(
    Positive(500),
    'Most missed messages `sync` returns; beyond it the client gets `resync` and reloads history.',
  ),
  PRESENCE_TTL_MS: variable(Positive(60_000), 'A user whose instance stops refreshing presence goes offline after this long.'),

  WRITE_CONCURRENCY: variable(Positive(4), 'Message commits one instance has in flight at once (each over distinct chats and senders).'),
  SEND_QUEUE_MAX: variable(
    Positive(5000),
    'Sends one instance holds waiting to be stored; past it new sends get a retryable `unavailable`.',
  ),
  SEND_QUEUE_MAX_WAIT_MS: variable(
    Positive(1500),
    'New sends get a retryable `unavailable` while the oldest waiting send has waited this long (ms): refused early, not queued for seconds.',
  ),
  COMMIT_DEADLINE_MS: variable(
    Positive(8000),
    'How long a message commit may take, retries and a request left unanswered included, before its sends get `unavailable` (ms).',
  ),
  CHAT_ROW_INTERVAL_MS: variable(
    Positive(1000),
    'Least time between two writes of one chat row (latest message, preview) by one instance (ms); the chat list lags by at most this.',
  ),

  FILE_MAX_BYTES: variable(Positive(2 * 1024 * 1024), 'Largest file upload, in bytes.'),
  FILE_ALLOWED_TYPES: variable(
    Type.String({ default: 'image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain' }),
    'Comma-separated content types allowed for uploads.',
  ),
  FREE_MESSAGES_PER_DAY: variable(Positive(200), 'Messages a free user may send per UTC day.'),
  FREE_STORAGE_BYTES: variable(Positive(25 * 1024 * 1024), 'Bytes of files a free user may store.'),
  PREMIUM_MESSAGES_PER_DAY: variable(Positive(10_000), 'Messages a premium user may send per UTC day.'),
  PREMIUM_STORAGE_BYTES: variable(Positive(1024 * 1024 * 1024), 'Bytes of files a premium user may store.'),

  LOCAL_DATA_DIR: variable(Type.String({ default: '.data' }), 'Local mode: where DynamoDB Local and the S3 emulator keep data.'),
  LOCAL_DYNAMODB_PORT: variable(Port(8000), 'Local mode: DynamoDB Local port.'),
  LOCAL_S3_PORT: variable(Port(4569), 'Local mode: S3 emulator port.'),
  LOCAL_IDP_PORT: variable(Port(9010), 'Local mode: port of the local sign-in provider standing in for the Cognito hosted UI.'),
} as const;

type Variables = typeof variables;
const EnvSchema = Type.Object(
  Object.fromEntries(Object.entries(variables).map(([name, spec]) => [name, spec.schema])) as {
    [K in keyof Variables]: Variables[K]['schema'];
  },
);
type Env = Static<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseOrigin(name: string, value: string, problems: string[]): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    return url.origin;
  } catch {
    problems.push(`${name}: "${value}" is not an http(s) URL`);
    return 'http://invalid.invalid';
  }
}

/** `true` is the load balancer alone; trusting every hop would let a client choose its own address. */
function proxyHops(value: string): number | false {
  const hops = value === 'true' ? 1 : value === 'false' ? 0 : Number(value);
  return hops > 0 ? hops : false;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function shape(env: Env, problems: string[]) {
  const publicOrigin = parseOrigin('PUBLIC_URL', env.PUBLIC_URL ?? `http://localhost:${env.PORT}`, problems);
  const allowedOrigins = list(env.WS_ALLOWED_ORIGINS).map((o) => parseOrigin('WS_ALLOWED_ORIGINS', o, problems));
  const mode: 'aws' | 'local' = env.COGNITO_USER_POOL_ID ? 'aws' : 'local';

  if (mode === 'aws') {
    for (const name of ['AWS_REGION', 'COGNITO_DOMAIN', 'COGNITO_CLIENT_ID', 'SESSION_SECRET'] as const) {
      if (!env[name]) problems.push(`${name}: required when COGNITO_USER_POOL_ID is set`);
    }
    if (env.COGNITO_USER_POOL_ID && !/^[\w-]+_[0-9a-zA-Z]+$/.test(env.COGNITO_USER_POOL_ID)) {
      problems.push(`COGNITO_USER_POOL_ID: "${env.COGNITO_USER_POOL_ID}" is not a user pool id (region_xxxx)`);
    }
  }
  const cognitoDomain = env.COGNITO_DOMAIN ? parseOrigin('COGNITO_DOMAIN', env.COGNITO_DOMAIN, problems) : undefined;
  if (env.SESSION_SECRET !== undefined && env.SESSION_SECRET.length < 32) {
    problems.push('SESSION_SECRET: must be at least 32 characters');
  }
  if (env.SESSION_IDLE_TIMEOUT_S > env.SESSION_ABSOLUTE_TIMEOUT_S) {
    problems.push('SESSION_IDLE_TIMEOUT_S: must not exceed SESSION_ABSOLUTE_TIMEOUT_S');
  }
  if (env.WS_SEND_SOFT_LIMIT_BYTES >= env.WS_SEND_HARD_LIMIT_BYTES) {
    problems.push('WS_SEND_SOFT_LIMIT_BYTES: must be below WS_SEND_HARD_LIMIT_BYTES');
  }
  for (const name of ['DYNAMODB_ENDPOINT', 'S3_ENDPOINT', 'OIDC_ISSUER'] as const) {
    const value = env[name];
    if (value) parseOrigin(name, value, problems);
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
    problems.push('METRICS_PORT: must differ from PORT (the metrics stay off the public listener)');
  }
  if (env.REDIS_URL && !/^rediss?:\/\//.test(env.REDIS_URL)) {
    problems.push(`REDIS_URL: must start with redis:// or rediss://`);
  }
  if (env.REDIS_AUTH_TOKEN && !env.REDIS_URL) problems.push('REDIS_AUTH_TOKEN: set without REDIS_URL');
  if (/[{}]/.test(env.REDIS_KEY_PREFIX)) {
    problems.push('REDIS_KEY_PREFIX: must not contain { or }: on a Redis Cluster they would choose the slot of every key');
  }
  if (env.REDIS_CLUSTER && !env.REDIS_URL) problems.push('REDIS_CLUSTER: set without REDIS_URL (the address of any node of the cluster)');
  if (env.REDIS_AUTH_TOKEN && env.REDIS_URL && /^rediss?:\/\/[^/]*:[^/@]*@/.test(env.REDIS_URL)) {
    problems.push('REDIS_AUTH_TOKEN: REDIS_URL carries a password too; keep the token in REDIS_AUTH_TOKEN only');
  }

  return {
    mode,
    http: {
      port: env.PORT,
      host: env.HOST,
      publicOrigin,
      secureCookies: publicOrigin.startsWith('https:'),
      /** Number of trusted proxy hops, or false for none. */
      trustProxy: proxyHops(env.TRUST_PROXY),
      rateLimitPerMinute: env.HTTP_RATE_LIMIT_PER_MINUTE,
      eventLoopStallMs: env.EVENT_LOOP_STALL_MS,
    },
    logLevel: env.LOG_LEVEL,
    metrics: {
      host: env.METRICS_HOST,
      port: env.METRICS_PORT,
    },
    aws: {
      region: env.AWS_REGION ?? 'us-east-1',
      dynamodbEndpoint: env.DYNAMODB_ENDPOINT,
      s3Endpoint: env.S3_ENDPOINT,
    },
    tables: {
      prefix: env.TABLE_PREFIX,
    },
    files: {
      bucket: env.S3_BUCKET,
      maxBytes: env.FILE_MAX_BYTES,
      allowedTypes: list(env.FILE_ALLOWED_TYPES),
    },
    identity: {
      userPoolId: env.COGNITO_USER_POOL_ID,
      domain: cognitoDomain,
      clientId: env.COGNITO_CLIENT_ID,
      clientSecret: env.COGNITO_CLIENT_SECRET,
      localIssuer: env.OIDC_ISSUER,
      premiumGroup: env.PREMIUM_GROUP,
    },
    redis: {
      url: env.REDIS_URL,
      /** A Redis Cluster: sharded pub/sub for the bus, cluster clients for everything else. */
      cluster: env.REDIS_CLUSTER,
      keyPrefix: env.REDIS_KEY_PREFIX,
      busProbeIntervalMs: env.BUS_PROBE_INTERVAL_MS,
      credentials: {
        password: env.REDIS_AUTH_TOKEN,
        tls: env.REDIS_URL?.startsWith('rediss://') ?? false,
      },
    },
    session: {
      secret: env.SESSION_SECRET,
      idleTimeoutS: env.SESSION_IDLE_TIMEOUT_S,
      absoluteTimeoutS: env.SESSION_ABSOLUTE_TIMEOUT_S,
    },
    realtime: {
      allowedOrigins: allowedOrigins.length > 0 ? allowedOrigins : [publicOrigin],
      maxPayloadBytes: env.WS_MAX_PAYLOAD_BYTES,
      maxSocketsPerUser: env.WS_MAX_SOCKETS_PER_USER,
      pingIntervalMs: env.WS_PING_INTERVAL_MS,
      sendSoftLimitBytes: env.WS_SEND_SOFT_LIMIT_BYTES,
      sendHardLimitBytes: env.WS_SEND_HARD_LIMIT_BYTES,
      syncMaxMessages: env.SYNC_MAX_MESSAGES,
      presenceTtlMs: env.PRESENCE_TTL_MS,
      drainSpreadMs: env.DRAIN_SPREAD_MS,
    },
    chats: {
      messageMaxLength: env.MESSAGE_MAX_LENGTH,
      groupMaxMembers: env.GROUP_MAX_MEMBERS,
    },
    writes: {
      concurrency: env.WRITE_CONCURRENCY,
      maxQueued: env.SEND_QUEUE_MAX,
      maxQueueWaitMs: env.SEND_QUEUE_MAX_WAIT_MS,
      commitDeadlineMs: env.COMMIT_DEADLINE_MS,
      chatRowIntervalMs: env.CHAT_ROW_INTERVAL_MS,
    },
    quotas: {
      free: { messagesPerDay: env.FREE_MESSAGES_PER_DAY, storageBytes: env.FREE_STORAGE_BYTES },
      premium: { messagesPerDay: env.PREMIUM_MESSAGES_PER_DAY, storageBytes: env.PREMIUM_STORAGE_BYTES },
    },
    local: {
      dataDir: env.LOCAL_DATA_DIR,
      dynamodbPort: env.LOCAL_DYNAMODB_PORT,
      s3Port: env.LOCAL_S3_PORT,
      idpPort: env.LOCAL_IDP_PORT,
    },
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
type DeepReadonly<T> = {
  readonly [K in keyof T]: T[K] extends (infer U)[] ? readonly DeepReadonly<U>[] : T[K] extends object ? DeepReadonly<T[K]> : T[K];
};

export type Config = DeepReadonly<ReturnType<typeof shape>>;
/** A config under construction (tests and the local stack fill in endpoints before freezing). */
export type ConfigDraft = Mutable<ReturnType<typeof shape>>;

/**
 * Validates and coerces `env` (strings, as the process gets them). Throws a
 * `ConfigError` listing every problem; returns a draft the caller may complete
 * (the local stack fills endpoints) before `freezeConfig`.
 */
export function parseConfig(env: Record<string, string | undefined>): ConfigDraft {
  const known: Record<string, unknown> = {};
  for (const name of Object.keys(variables)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') known[name] = raw;
  }
  const converted = Value.Convert(EnvSchema, known) as Record<string, unknown>;
  const errors = [...Value.Errors(EnvSchema, Value.Default(EnvSchema, structuredClone(converted)))];
  const problems = errors.map((e) => {
    const name = e.path.replace(/^\//, '');
    const raw = env[name];
    return `${name}: ${e.message}${raw === undefined ? '' : ` (got "${raw}")`}`;
  });
  // The cross-variable checks still run, on defaults in place of the invalid values,
  // so one start reports every problem at once.
  for (const e of errors) delete converted[e.path.replace(/^\//, '')];
  const draft = shape(Value.Default(EnvSchema, converted) as Env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return draft;
}

export function freezeConfig(draft: ConfigDraft): Config {
  return deepFreeze(structuredClone(draft));
}

/**
 * The origin the browser reaches the file bucket at, for the page's security policy:
 * the emulator's endpoint (path-style) when one is set, else the bucket's regional
 * virtual-hosted origin, which is what the SDK presigns. A bucket name with dots
 * cannot be a TLS host name, so the SDK falls back to path-style there.
 */
export function filesOrigin(config: Pick<Config, 'aws' | 'files'>): string {
  if (config.aws.s3Endpoint) return new URL(config.aws.s3Endpoint).origin;
  const { region } = config.aws;
  const bucket = config.files.bucket;
  return bucket.includes('.') ? `https://s3.${region}.amazonaws.com` : `https://${bucket}.s3.${region}.amazonaws.com`;
}
