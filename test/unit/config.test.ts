import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, freezeConfig, parseConfig, variables } from '../../src/config.js';
import { baseConnectionOptions, clusterConnectionOptions } from '../../src/adapters/redis/connection.js';

const loadConfig = (env: Record<string, string>) => freezeConfig(parseConfig(env));

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const awsEnv = {
  COGNITO_USER_POOL_ID: 'eu-west-1_AbC123xyz',
  AWS_REGION: 'eu-west-1',
  COGNITO_DOMAIN: 'https://auth.example.com/',
  COGNITO_CLIENT_ID: 'client-123',
  SESSION_SECRET: 'x'.repeat(40),
  PUBLIC_URL: 'https://chat.example.com',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('with no variables set, huddle runs locally on the documented defaults', async (t) => {
  const config = loadConfig({});
  t.equal(config.mode, 'local');
  t.equal(config.http.port, 3000);
  t.equal(config.http.host, 'localhost');
  t.equal(config.http.publicOrigin, 'http://localhost:3000');
  t.equal(config.http.secureCookies, false);
  t.equal(config.http.trustProxy, false);
  t.equal(config.logLevel, 'info');
  t.equal(config.tables.prefix, 'huddle-');
  t.equal(config.redis.url, undefined, 'no Redis: the in-process bus');
  t.equal(config.redis.keyPrefix, 'huddle:');
  t.same(config.realtime.allowedOrigins, ['http://localhost:3000'], 'only the public origin may open /ws');
  t.equal(config.realtime.maxPayloadBytes, 64 * 1024);
  t.equal(config.realtime.pingIntervalMs, 25_000);
  t.same(config.quotas.free, { messagesPerDay: 200, storageBytes: 25 * 1024 * 1024 });
  t.same(config.quotas.premium, { messagesPerDay: 10_000, storageBytes: 1024 * 1024 * 1024 });
  t.ok(config.files.allowedTypes.includes('image/png'));
});

t.test('values arrive as strings and are coerced to their types', async (t) => {
  const config = loadConfig({
    PORT: '3001',
    TRUST_PROXY: 'true',
    WS_MAX_PAYLOAD_BYTES: '1024',
    FILE_ALLOWED_TYPES: ' image/png , text/plain ,',
    WS_ALLOWED_ORIGINS: 'https://a.example.com/path, http://localhost:5173',
  });
  t.equal(config.http.port, 3001);
  t.equal(config.http.publicOrigin, 'http://localhost:3001', 'the default public URL follows PORT');
  t.equal(config.http.trustProxy, 1, 'true trusts exactly one hop: the load balancer');
  t.equal(config.realtime.maxPayloadBytes, 1024);
  t.same(config.files.allowedTypes, ['image/png', 'text/plain']);
  t.same(config.realtime.allowedOrigins, ['https://a.example.com', 'http://localhost:5173'], 'origins, not URLs');
});

t.test('an empty variable counts as unset', async (t) => {
  const config = loadConfig({ PORT: '', REDIS_URL: '' });
  t.equal(config.http.port, 3000);
  t.equal(config.redis.url, undefined);
});

t.test('every problem is reported at once, each naming its variable', async (t) => {
  const problems = problemsOf({ PORT: 'abc', WS_MAX_PAYLOAD_BYTES: '-1', REDIS_URL: 'http://127.0.0.1:6379' });
  t.equal(problems.length, 3, problems.join('\n'));
  t.match(
    problems.find((p) => p.startsWith('PORT:')),
    /"abc"/,
  );
  t.match(
    problems.find((p) => p.startsWith('WS_MAX_PAYLOAD_BYTES:')),
    /"-1"/,
  );
  t.ok(problems.find((p) => p.startsWith('REDIS_URL:')));

  const thrown = t.throws(() => parseConfig({ PORT: 'abc', LOG_LEVEL: 'loud' }));
  t.type(thrown, ConfigError);
  t.match((thrown as Error).message, /PORT/);
  t.match((thrown as Error).message, /LOG_LEVEL/);
});

t.test('values outside their range or shape are refused', async (t) => {
  t.match(problemsOf({ PORT: '70000' }), [/^PORT:/]);
  t.match(problemsOf({ TRUST_PROXY: 'yes' }), [/^TRUST_PROXY:/]);
  t.match(problemsOf({ PUBLIC_URL: 'ftp://chat.example.com' }), [/^PUBLIC_URL:/]);
  t.match(problemsOf({ COGNITO_DOMAIN: 'not a url' }), [/^COGNITO_DOMAIN:/]);
  t.match(problemsOf({ SESSION_SECRET: 'short' }), [/^SESSION_SECRET: must be at least 32/]);
  t.match(problemsOf({ WS_SEND_SOFT_LIMIT_BYTES: '5000', WS_SEND_HARD_LIMIT_BYTES: '4000' }), [/^WS_SEND_SOFT_LIMIT_BYTES:/]);
  t.match(problemsOf({ SESSION_IDLE_TIMEOUT_S: '100', SESSION_ABSOLUTE_TIMEOUT_S: '50' }), [/^SESSION_IDLE_TIMEOUT_S:/]);
});

t.test('AWS mode needs region, hosted UI domain, client id and session secret, all listed together', async (t) => {
  const problems = problemsOf({ COGNITO_USER_POOL_ID: 'eu-west-1_AbC123xyz' });
  for (const name of ['AWS_REGION', 'COGNITO_DOMAIN', 'COGNITO_CLIENT_ID', 'SESSION_SECRET']) {
    t.ok(
      problems.some((p) => p.startsWith(`${name}: required`)),
      `${name} is reported`,
    );
  }
  t.equal(problems.length, 4);
  t.match(problemsOf({ ...awsEnv, COGNITO_USER_POOL_ID: 'not-a-pool' }), [/^COGNITO_USER_POOL_ID:/]);

  const config = loadConfig(awsEnv);
  t.equal(config.mode, 'aws');
  t.equal(config.aws.region, 'eu-west-1');
  t.equal(config.identity.domain, 'https://auth.example.com');
  t.equal(config.http.secureCookies, true, 'an https public URL gets secure cookies');
});

t.test('the configuration cannot be changed once loaded', async (t) => {
  const config = loadConfig({ WS_ALLOWED_ORIGINS: 'https://a.example.com' });
  t.ok(Object.isFrozen(config));
  t.ok(Object.isFrozen(config.http));
  t.ok(Object.isFrozen(config.quotas.free));
  t.ok(Object.isFrozen(config.realtime.allowedOrigins));
  t.throws(() => {
    (config.http as { port: number }).port = 1;
  }, TypeError);
  t.throws(() => {
    (config.realtime.allowedOrigins as string[]).push('https://evil.example.com');
  }, TypeError);
});

t.test('the metrics listener is off unless METRICS_PORT is set, loopback by default, never the public port', async (t) => {
  t.same(loadConfig({}).metrics, { host: '127.0.0.1', port: undefined });
  t.same(loadConfig({ METRICS_PORT: '9464' }).metrics, { host: '127.0.0.1', port: 9464 });
  t.same(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics, { host: '0.0.0.0', port: 9464 });
  t.match(problemsOf({ PORT: '3000', METRICS_PORT: '3000' }), [/^METRICS_PORT: must differ from PORT/]);
  t.match(problemsOf({ METRICS_PORT: 'nine' }), [/^METRICS_PORT: /]);
});

t.test('REDIS_AUTH_TOKEN becomes the connection password, and a rediss:// URL means TLS', async (t) => {
  t.same(loadConfig({}).redis.credentials, { password: undefined, tls: false }, 'no Redis, no credentials');
  t.same(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis.credentials, { password: undefined, tls: false });
  const aws = loadConfig({ ...awsEnv, REDIS_URL: 'rediss://master.example.cache.amazonaws.com:6379', REDIS_AUTH_TOKEN: 't'.repeat(32) });
  t.same(aws.redis.credentials, { password: 't'.repeat(32), tls: true }, 'the token from its own variable, TLS from the scheme');
  t.equal(aws.redis.url, 'rediss://master.example.cache.amazonaws.com:6379', 'the URL is left as it is');
  t.match(problemsOf({ REDIS_AUTH_TOKEN: 'tok' }), [/^REDIS_AUTH_TOKEN: set without REDIS_URL/]);
  t.match(problemsOf({ REDIS_URL: 'rediss://:secret@h:6379', REDIS_AUTH_TOKEN: 'tok' }), [
    /^REDIS_AUTH_TOKEN: REDIS_URL carries a password too/,
  ]);
});

t.test('the Redis connection options carry the token and TLS to ioredis', async (t) => {
  const options = baseConnectionOptions('huddle-test', { password: 'tok', tls: true });
  t.equal(options.password, 'tok');
  t.same(options.tls, {});
  const plain = baseConnectionOptions('huddle-test');
  t.notOk('password' in plain, 'no password when there is no token');
  t.notOk('tls' in plain, 'no TLS for redis://');
});

t.test('REDIS_CLUSTER switches every Redis user to the cluster, and needs REDIS_URL', async (t) => {
  t.equal(loadConfig({}).redis.cluster, false, 'off by default');
  t.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:7000' }).redis.cluster, false);
  const on = loadConfig({ REDIS_URL: 'redis://127.0.0.1:7000', REDIS_CLUSTER: 'true' });
  t.equal(on.redis.cluster, true);
  t.equal(on.redis.url, 'redis://127.0.0.1:7000', 'the URL names the seed node');
  t.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:7000', REDIS_CLUSTER: 'false' }).redis.cluster, false);
  t.match(problemsOf({ REDIS_CLUSTER: 'true' }), [/^REDIS_CLUSTER: set without REDIS_URL/]);
  t.match(problemsOf({ REDIS_URL: 'redis://127.0.0.1:7000', REDIS_CLUSTER: 'cluster' }), [/^REDIS_CLUSTER: .*\(got "cluster"\)/]);
  t.match(problemsOf({ REDIS_KEY_PREFIX: '{huddle}:' }), [/^REDIS_KEY_PREFIX: must not contain \{ or \}/]);
});

t.test('a cluster client is seeded from REDIS_URL with the same token and TLS as a single Redis', async (t) => {
  const tls = clusterConnectionOptions(
    { url: 'rediss://clustercfg.example.cache.amazonaws.com:6379', cluster: true, credentials: { password: 'tok', tls: true } },
    'huddle-test',
  );
  t.same(tls.startNodes, [{ host: 'clustercfg.example.cache.amazonaws.com', port: 6379 }]);
  t.equal(tls.options.redisOptions?.password, 'tok', 'every node connection authenticates with the token');
  t.same(tls.options.redisOptions?.tls, {}, 'and speaks TLS');
  t.type(tls.options.dnsLookup, 'function', 'node addresses are used as reported, as TLS certificates name them');
  const plain = clusterConnectionOptions({ url: 'redis://127.0.0.1:7000', cluster: true }, 'huddle-test', { enableOfflineQueue: false });
  t.same(plain.startNodes, [{ host: '127.0.0.1', port: 7000 }]);
  t.notOk('password' in (plain.options.redisOptions ?? {}), 'no password when there is no token');
  t.notOk('tls' in (plain.options.redisOptions ?? {}), 'no TLS for redis://');
  t.equal(plain.options.enableOfflineQueue, false, "the caller's queueing choice reaches the cluster client");
});

t.test('every variable carries a description and a schema', async (t) => {
  for (const [name, spec] of Object.entries(variables)) {
    t.ok(spec.description.length > 10, `${name} is described`);
    t.ok(spec.schema, `${name} has a schema`);
  }
});

t.test('the server refuses to start on a broken variable, naming it, and exits 1', async (t) => {
  // It exits before starting anything, so no emulator or port is involved.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: 'abc', WS_MAX_PAYLOAD_BYTES: '-1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  t.equal(code, 1);
  t.match(stderr, /PORT/);
  t.match(stderr, /WS_MAX_PAYLOAD_BYTES/);
  t.notMatch(stderr, /huddle is ready/);
});
