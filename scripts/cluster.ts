/**
 * `npm run cluster -- --instances N [--base-port P] [--redis-cluster]`: the local stack
 * once (see scripts/load/stack.ts) and N huddle instances on consecutive ports from P,
 * all on one Redis (REDIS_URL, else a throwaway redis-server), each instance its own
 * process as `npm start` runs it. With `--redis-cluster` (or REDIS_CLUSTER=true) that
 * Redis is a Redis Cluster: the one at REDIS_URL, else a throwaway three-master one. Prints the URLs, how to sign in and how to load-test them;
 * Ctrl-C or SIGTERM stops every process it started and frees every port.
 *
 * The instances get load-test settings (quotas, HTTP rate limit, group size) so that
 * a load run measures the service rather than its per-user limits; any of them set in
 * the environment wins.
 */
import type { ChildProcess } from 'node:child_process';
import { fail } from './script-support.js';
import { numberOption, parseOptions } from './load/cli.js';
import { portIsFree, startInstanceProcess, stopProcess, type InstanceProcess } from './load/processes.js';
import { commandName, pidListeningOn } from './load/proc-stats.js';
import { startLoadStack, type LoadStack } from './load/stack.js';

const usage = 'usage: npm run cluster -- --instances N [--base-port P] [--redis-cluster]   (N from 1 to 16, default 2; P default 3000)';

/** Limits meant for people, lifted so that many synthetic users fit in one run. */
export const loadTestSettings: Record<string, string> = {
  LOG_LEVEL: 'warn',
  HTTP_RATE_LIMIT_PER_MINUTE: '100000',
  FREE_MESSAGES_PER_DAY: '10000000',
  PREMIUM_MESSAGES_PER_DAY: '10000000',
  GROUP_MAX_MEMBERS: '200',
};

const values = parseOptions(
  process.argv.slice(2),
  { instances: { type: 'string' }, 'base-port': { type: 'string' }, 'redis-cluster': { type: 'boolean' } },
  usage,
);
const redisCluster = values['redis-cluster'] === true || process.env.REDIS_CLUSTER === 'true';
const count = numberOption('instances', values.instances, { default: 2, min: 1, max: 16 });
const basePort = numberOption('base-port', values['base-port'], { default: 3000, min: 1024, max: 65535 - count });
const ports = Array.from({ length: count }, (_, i) => basePort + i);

let stack: LoadStack | undefined;
const instances: InstanceProcess[] = [];
/** Every instance process spawned, ready or not: all of them stop. */
const children = new Set<ChildProcess>();
let stopping = false;

async function start(): Promise<void> {
  for (const port of ports) {
    if (await portIsFree(port)) continue;
    const pid = await pidListeningOn(port);
    const owner = pid ? ` by process ${pid} (${(await commandName(pid)) ?? 'unknown'})` : '';
    fail(`Port ${port} on 127.0.0.1 is taken${owner}: the cluster needs ports ${ports[0]}-${ports.at(-1)}. Pick others with --base-port.`);
  }

  stack = await startLoadStack({ redisUrl: process.env.REDIS_URL, redisCluster, dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT });
  const env = { ...loadTestSettings, ...process.env, ...stack.env };
  await Promise.all(
    ports.map(async (port) => {
      if (stopping) return;
      const instance = await startInstanceProcess({ port, env, onSpawn: (child) => children.add(child) });
      instances.push(instance);
      instance.child.once('exit', (code, signal) => {
        if (!stopping) process.stderr.write(`instance ${instance.baseUrl} exited (${code ?? signal}); the others keep running\n`);
      });
    }),
  );
  if (stopping) return;
  instances.sort((a, b) => a.port - b.port);
  printRunning(stack);
}

function printRunning(stack: LoadStack) {
  const described = (service: LoadStack['redis'], startedAs: string) =>
    `${service.url}${service.started ? ` (${startedAs}` : ' (given'}${service.pid ? `, pid ${service.pid})` : ')'}`;
  const targets = instances.map((i) => i.baseUrl).join(',');
  const measured = [stack.redis.pid && `redis=${stack.redis.pid}`, stack.dynamodb.pid && `dynamodb=${stack.dynamodb.pid}`].filter(Boolean);
  const settings = Object.keys(loadTestSettings).map((name) => `${name}=${process.env[name] ?? loadTestSettings[name]}`);
  process.stdout.write(
    [
      '',
      `huddle cluster: ${instances.length} instance${instances.length === 1 ? '' : 's'} on ${stack.redisCluster ? 'a Redis Cluster' : 'one Redis'} (Ctrl-C stops everything)`,
      ...instances.map((i) => `  ${i.baseUrl}   pid ${i.child.pid}`),
      `  Redis           ${described(stack.redis, stack.redisCluster ? 'throwaway Redis Cluster, 3 masters' : 'throwaway')}`,
      `  DynamoDB Local  ${described(stack.dynamodb, 'in memory')}`,
      `  S3 emulator     ${stack.s3.url}`,
      `  Sign-in         ${stack.signIn.url}`,
      '',
      'Sign in: open any instance URL and type any username (no password). Sessions live in DynamoDB,',
      'so a session cookie from one instance works on every other.',
      '',
      'Load-test them (see docs/load-testing.md):',
      `  npm run loadtest -- --targets ${targets} --connections 100 --members 10 --rate 50 --duration 10` +
        (measured.length > 0 ? ` --pids ${measured.join(',')}` : ''),
      'or, with users written straight into the tables (no sign-in form; what a deployed stack needs):',
      `  npm run loadtest -- --targets ${targets} --connections 100 --prepare tables --table-prefix ${stack.env.TABLE_PREFIX} ` +
        `--dynamodb-endpoint ${stack.dynamodb.url}`,
      '',
      `Settings for load runs (the environment overrides them): ${settings.join(' ')}`,
      'cluster ready',
      '',
    ].join('\n'),
  );
}

const startup = start();

async function stopEverything(): Promise<void> {
  await Promise.all([...children].map((child) => stopProcess(child)));
  // Whatever was still starting has failed or finished by now; nothing new spawns once stopping.
  await startup.catch(() => {});
  await Promise.all([...children].map((child) => stopProcess(child)));
  await stack?.close();
}

async function stop(signal: NodeJS.Signals) {
  if (stopping) {
    // A second Ctrl-C: no more waiting for graceful exits.
    for (const child of children) child.kill('SIGKILL');
    return;
  }
  stopping = true;
  process.stdout.write(`\n${signal}: stopping ${children.size} instance(s) and the local stack\n`);
  await stopEverything();
  process.stdout.write('cluster stopped\n');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

startup.catch(async (err: unknown) => {
  if (stopping) return;
  stopping = true;
  await stopEverything();
  fail(`The cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
});
