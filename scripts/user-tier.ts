/**
 * `npm run user:tier -- <username> premium|free`: sets a user's tier in the
 * configured `WebSocketUsers` table and tells the user's open sockets at once.
 *
 * Which tables: the same settings as the service. AWS mode (COGNITO_USER_POOL_ID
 * and the variables it requires, AWS credentials from the usual chain) targets the
 * AWS tables; DYNAMODB_ENDPOINT targets that endpoint; otherwise the local stack
 * that `npm start` or `npm run stack` is running (found through
 * `<LOCAL_DATA_DIR>/stack.json`).
 *
 * Telling open sockets: with REDIS_URL (and the service's REDIS_KEY_PREFIX) a
 * `quota` frame goes out on the user's channel, so every instance pushes it to the
 * user's sockets. Without Redis the running instances use an in-process bus this
 * command cannot reach; sockets then learn the tier on reconnect.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { ConfigError, freezeConfig, parseConfig, type Config, type ConfigDraft } from '../src/config.js';
import { AppError, type Tier } from '../src/model/index.js';
import { createDynamoClient } from '../src/adapters/dynamodb/client.js';
import { documentsOver } from '../src/adapters/dynamodb/document.js';
import { tableNames } from '../src/adapters/dynamodb/table.js';
import { createQuotasRepository } from '../src/adapters/dynamodb/quotas-repository.js';
import { createQuotasService } from '../src/domain/quotas/quotas-service.js';
import { formatBytes } from '../src/shared/files.js';
import { createRedisBus } from '../src/adapters/redis/redis-bus.js';
import type { Bus } from '../src/domain/fanout/ports.js';
import { createBusEventPublisher } from '../src/transport/realtime/event-frames.js';
import type { ServerFrame } from '../src/transport/realtime/protocol.js';

const USAGE = 'Usage: npm run user:tier -- <username> premium|free';
const REDIS_TIMEOUT_MS = 5000;

class UserError extends Error {}

function parseArgs(argv: string[]): { username: string; tier: Tier } {
  const [username, tier, ...rest] = argv;
  if (!username || !tier || rest.length > 0) throw new UserError(USAGE);
  if (tier !== 'premium' && tier !== 'free') throw new UserError(`Unknown tier "${tier}": use premium or free.\n${USAGE}`);
  return { username, tier };
}

/** Locally, with no DYNAMODB_ENDPOINT, the endpoint of the running local stack. */
async function localStackEndpoint(draft: ConfigDraft): Promise<string> {
  const file = path.resolve(draft.local.dataDir, 'stack.json');
  let endpoint: unknown;
  try {
    endpoint = (JSON.parse(await readFile(file, 'utf8')) as { dynamodbEndpoint?: unknown }).dynamodbEndpoint;
  } catch {
    endpoint = undefined;
  }
  if (typeof endpoint !== 'string') {
    throw new UserError(
      [
        `The local stack is not running (no ${path.relative(process.cwd(), file) || file}).`,
        'Start it with `npm start` or `npm run stack`, or set DYNAMODB_ENDPOINT;',
        'for the AWS tables, run with the service settings (COGNITO_USER_POOL_ID, AWS_REGION, ...).',
      ].join('\n'),
    );
  }
  return endpoint;
}

function explain(err: unknown, target: string): string {
  const code =
    (err as { code?: string; cause?: { code?: string } } | undefined)?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  if (code === 'ECONNREFUSED') return `Nothing answers at ${target}: is the local stack (npm start / npm run stack) still running?`;
  if (err instanceof Error && err.name === 'ResourceNotFoundException') return `${err.message} (is TABLE_PREFIX the one the service uses?)`;
  if (err instanceof Error && err.name === 'CredentialsProviderError')
    return 'No AWS credentials found (set a profile, environment credentials or run with a role).';
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function connectBus(redis: Config['redis'] & { url: string }): Promise<Bus<ServerFrame> | undefined> {
  const logger = pino({ level: 'error', base: undefined }, pino.destination(2));
  const connecting = createRedisBus<ServerFrame>({ url: redis.url, credentials: redis.credentials, keyPrefix: redis.keyPrefix, logger });
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), REDIS_TIMEOUT_MS).unref());
  const bus = await Promise.race([connecting.catch(() => undefined), timeout]);
  // A connection that comes up after we stopped waiting must not keep the process alive.
  if (!bus) void connecting.then((late) => late.close()).catch(() => {});
  return bus;
}

async function main(): Promise<number> {
  const { username, tier } = parseArgs(process.argv.slice(2));
  let draft: ConfigDraft;
  try {
    draft = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.message);
    throw err;
  }
  if (draft.mode === 'local' && !draft.aws.dynamodbEndpoint) draft.aws.dynamodbEndpoint = await localStackEndpoint(draft);
  const config = freezeConfig(draft);
  const target = config.aws.dynamodbEndpoint ?? `DynamoDB in ${config.aws.region}`;

  const raw = createDynamoClient({ region: config.aws.region, endpoint: config.aws.dynamodbEndpoint });
  const { redis } = config;
  const bus = redis.url ? await connectBus({ ...redis, url: redis.url }) : undefined;
  try {
    const quotas = createQuotasService({
      repository: createQuotasRepository(documentsOver(raw), tableNames(config.tables.prefix).users),
      limits: config.quotas,
      clock: Date.now,
      ...(bus ? { events: createBusEventPublisher(bus) } : {}),
    });
    let result;
    try {
      result = await quotas.setTier(username, tier);
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found')
        throw new UserError(`No user named "${username}" in ${target} (table prefix "${config.tables.prefix}").`);
      throw new UserError(explain(err, target));
    }

    const { quota } = result;
    const change = result.previousTier === result.tier ? `already ${result.tier} (unchanged)` : `${result.previousTier} -> ${result.tier}`;
    const lines = [
      `${result.username}: ${change}`,
      `  messages today: ${quota.messagesToday} of ${quota.messagesPerDay}`,
      `  storage: ${formatBytes(quota.storageBytes)} of ${formatBytes(quota.storageLimitBytes)}`,
    ];
    if (result.notified) lines.push('  open sockets were sent the new quota through Redis');
    else if (config.redis.url) lines.push(`  Redis did not answer: open sockets learn the new tier when they reconnect`);
    else lines.push('  no REDIS_URL: open sockets learn the new tier when they reconnect');
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await bus?.close().catch(() => {});
    raw.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `${err instanceof UserError ? err.message : `user:tier failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`}\n`,
    );
    process.exit(1);
  },
);
