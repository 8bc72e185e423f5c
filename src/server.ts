/**
 * Process entry: read the configuration, start or join the local stack when there
 * are no AWS settings, build the app, listen, and shut down gracefully.
 */
import { fileURLToPath } from 'node:url';
import closeWithGrace from 'close-with-grace';
import { ConfigError, freezeConfig, parseConfig, type ConfigDraft } from './config.js';
import { buildApp } from './app.js';
import { compose } from './compose.js';
import { buildMetricsListener } from './transport/http/metrics-listener.js';

/**
 * How long shutdown may take after the drain's spread before the process gives up and
 * exits 1; with the default spread (10 s) it stays below the task's stop timeout (45 s).
 */
const AFTER_DRAIN_GRACE_MS = 25_000;

/** The built page: this file runs as src/server.ts (tsx) or as the bundle dist/server.js, one folder below the root either way. */
const PAGE_DIR = fileURLToPath(new URL('../dist/public/', import.meta.url));

async function localStackFor(draft: ConfigDraft) {
  // Imported only here, and left out of the bundle: the emulators are development dependencies, absent from the image.
  const local = await import('./local/stack.js').catch((err: unknown) => {
    throw new Error(
      'COGNITO_USER_POOL_ID is not set, so huddle would run its local stack, which is not available here: the built server ' +
        '(dist/server.js, as in the image) leaves it out, and its emulators are development dependencies. Set the AWS variables (see README), or run `npm start` in a full checkout.',
      { cause: err },
    );
  });
  const { startOrJoinLocalStack, applyLocalStack } = local;
  const stack = await startOrJoinLocalStack(draft);
  await applyLocalStack(draft, stack);
  return stack;
}

function listenFailure(err: unknown, port: number, metricsPort: number | undefined): string {
  const { code, port: failedPort } = err as { code?: string; port?: number };
  if (code !== 'EADDRINUSE') return `cannot listen: ${err instanceof Error ? err.message : String(err)}`;
  const variable = failedPort === metricsPort ? 'METRICS_PORT' : 'PORT';
  return `port ${failedPort ?? port} is already in use by another program: stop it, or set ${variable} to a free port`;
}

async function main() {
  let draft: ConfigDraft;
  try {
    draft = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const startedAt = performance.now();
  const stack = draft.mode === 'local' ? await localStackFor(draft) : undefined;
  const config = freezeConfig(draft);
  let app: Awaited<ReturnType<typeof buildApp>>;
  let services: Awaited<ReturnType<typeof compose>>;
  try {
    services = await compose(config);
    app = await buildApp(config, services, { pageDir: PAGE_DIR });
  } catch (err) {
    await stack?.close();
    throw err;
  }

  const metricsListener = config.metrics.port === undefined ? undefined : buildMetricsListener(services.metrics);
  // The drain's spread, then the writes in flight (bounded by the SDK's timeouts) and closing the clients.
  closeWithGrace({ delay: config.realtime.drainSpreadMs + AFTER_DRAIN_GRACE_MS }, async ({ signal, err }) => {
    if (err) {
      // After a crash the process is suspect: no lingering, the sockets close at once.
      app.log.error({ err }, 'shutting down after an error');
    } else {
      app.log.info({ signal }, 'shutting down: draining');
      await app.drain();
    }
    await app.close();
    await metricsListener?.close();
    await stack?.close();
  });

  try {
    await metricsListener?.listen({ port: config.metrics.port, host: config.metrics.host });
    await app.listen({ port: config.http.port, host: config.http.host });
  } catch (err) {
    // Nothing started for this process may outlive it: the local stack's Java process above all.
    await app.close().catch(() => {});
    await metricsListener?.close().catch(() => {});
    await stack?.close();
    throw new Error(listenFailure(err, config.http.port, config.metrics.port), { cause: err });
  }
  const readyMs = Math.round(performance.now() - startedAt);
  app.log.info({ readyMs, mode: config.mode }, 'huddle is ready');
  if (stack) {
    const lines = [
      '',
      `  huddle is running: open ${config.http.publicOrigin}`,
      `  Sign in with any username (new names are created on the spot); no password is needed locally.`,
      stack.owned
        ? `  Local stack started: DynamoDB Local ${stack.addresses.dynamodbEndpoint}, S3 emulator ${stack.addresses.s3Endpoint}, sign-in ${stack.addresses.issuer}`
        : `  Joined the local stack already running (DynamoDB Local ${stack.addresses.dynamodbEndpoint}, sign-in ${stack.addresses.issuer}).`,
      config.redis.url
        ? `  Bus: Redis ${config.redis.cluster ? 'Cluster (sharded pub/sub) via ' : ''}${new URL(config.redis.url).host}`
        : '  Bus: in-process (set REDIS_URL to run several instances).',
      `  Ready in ${readyMs} ms.`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`huddle failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
