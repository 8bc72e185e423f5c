/**
 * `npm run cluster` as a load tester runs it: a separate process started with two
 * instances on the test's Redis (or on a throwaway Redis Cluster it starts) and DynamoDB, a message sent through one instance
 * and received through the other, then SIGTERM: every process it started is gone
 * and its ports are free again.
 */
import t from 'tap';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { portIsFree, repoRoot } from '../../scripts/load/processes.js';
import { descendantsOf, isAlive } from '../../scripts/load/proc-stats.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady } from '../helpers/ws-client.js';
import { requireEnv } from '../helpers/test-stack.js';
import { redisServerUnavailable } from '../helpers/redis-server.js';

requireEnv('DYNAMODB_ENDPOINT');
requireEnv('REDIS_URL');
const noRedisServer = redisServerUnavailable();

interface ClusterRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `withoutRedis`: no REDIS_URL in its environment, so it starts a Redis of its own. */
function runCluster(args: string[], options: { withoutRedis?: boolean } = {}): ClusterRun {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' };
  if (options.withoutRedis) delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output, exited };
}

/** Two consecutive ports that are free right now, below the range the kernel hands out to outgoing connections. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if ((await portIsFree(port)) && (await portIsFree(port + 1))) return port;
  }
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('a taken port is named, and nothing starts', async (t) => {
  const base = await freePortPair();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(base + 1, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  const run = runCluster(['--instances', '2', '--base-port', String(base)]);
  t.equal(await run.exited, 1, 'exits with 1');
  t.match(run.output(), `Port ${base + 1} on 127.0.0.1 is taken`, 'names the port');
  t.match(run.output(), '--base-port', 'says how to pick others');
  t.ok(await portIsFree(base), 'the free port of the pair was not left taken');
});

for (const [redis, extraArgs] of [
  ['one Redis', []],
  ['a throwaway Redis Cluster (--redis-cluster)', ['--redis-cluster']],
] as const) {
  t.test(
    `two instances on ${redis} carry a message across, and SIGTERM leaves nothing behind`,
    { skip: extraArgs.length > 0 && noRedisServer ? `needs redis-server for a local cluster: ${noRedisServer}` : false },
    async (t) => {
      const base = await freePortPair();
      const onCluster = extraArgs.length > 0;
      const run = runCluster(['--instances', '2', '--base-port', String(base), ...extraArgs], { withoutRedis: onCluster });
      await until(() => run.output().includes('cluster ready') || run.child.exitCode !== null, 'cluster ready', 90_000);
      t.ok(run.output().includes('cluster ready'), 'says it is ready', { output: run.output() });

      const [a, b] = [`http://127.0.0.1:${base}`, `http://127.0.0.1:${base + 1}`];
      t.match(run.output(), a, 'prints the first URL');
      t.match(run.output(), b, 'prints the second URL');
      if (onCluster) t.match(run.output(), 'on a Redis Cluster', 'says the instances share a Redis Cluster');
      for (const url of [a, b]) t.equal((await fetch(`${url}/readyz`)).status, 200, `${url} is ready`);

      const alice = await person(a, 'alice');
      const bob = await person(b, 'bob');
      const chatId = await openDirect(a, alice, bob);
      const bobSocket = (await connectReady(`ws://127.0.0.1:${base + 1}/ws`, bob.cookie)).client;
      const aliceSocket = (await connectReady(`ws://127.0.0.1:${base}/ws`, alice.cookie)).client;
      aliceSocket.send({ type: 'send', chatId, clientMsgId: 'across-1', text: 'across instances' });
      const received = await bobSocket.next('message', (f) => f.message.clientMsgId === 'across-1');
      t.equal(received.message.text, 'across instances', 'sent through the first instance, received through the second');
      await Promise.all([aliceSocket.close(), bobSocket.close()]);

      const started = await descendantsOf(run.child.pid!);
      // Two instances, and on a cluster its three redis-servers too.
      t.ok(started.length >= (onCluster ? 5 : 2), `the cluster's processes are known (${started.length})`);
      run.child.kill('SIGTERM');
      t.equal(await run.exited, 0, 'SIGTERM: exits with 0');
      t.match(run.output(), 'cluster stopped', 'says it stopped');
      await until(() => started.every((pid) => !isAlive(pid)), `processes ${started.join(', ')} to end`, 10_000).catch(() => {});
      t.same(
        started.filter((pid) => isAlive(pid)),
        [],
        'no process it started is left',
      );
      t.ok(await portIsFree(base), `port ${base} is free`);
      t.ok(await portIsFree(base + 1), `port ${base + 1} is free`);
    },
  );
}
