/**
 * `npm run redis:cluster` as a developer runs it: a separate process that starts a
 * three-master Redis Cluster on the ports asked for, prints the variables to use,
 * and on SIGTERM leaves no server running and every port free.
 */
import t from 'tap';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Cluster } from 'ioredis';
import { portIsFree, repoRoot } from '../../scripts/load/processes.js';
import { descendantsOf, isAlive } from '../../scripts/load/proc-stats.js';
import { redisServerUnavailable } from '../helpers/redis-server.js';

const BUS_PORT_OFFSET = 10_000;
const noRedisServer = redisServerUnavailable();

interface ScriptRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runScript(args: string[]): ScriptRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/redis-cluster.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Its own SIGTERM path stops the servers; a hard kill would orphan them.
    child.kill('SIGTERM');
    await exited;
  });
  return { child, output: () => output, exited };
}

/**
 * Three consecutive ports free right now, with their cluster bus ports, all below the
 * range the kernel hands out to outgoing connections.
 */
async function freeTriple(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 2000);
    const ports = [0, 1, 2].flatMap((i) => [base + i, base + i + BUS_PORT_OFFSET]);
    if ((await Promise.all(ports.map((port) => portIsFree(port)))).every(Boolean)) return base;
  }
}

async function until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('a taken port is named, and nothing starts', { skip: noRedisServer ? `needs redis-server: ${noRedisServer}` : false }, async (t) => {
  const base = await freeTriple();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(base + 2, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  const run = runScript(['--port', String(base)]);
  t.equal(await run.exited, 1, 'exits with 1');
  t.match(run.output(), `Port ${base + 2} on 127.0.0.1 is taken`, 'names the port');
  t.match(run.output(), '--port', 'says how to pick others');
  t.ok(await portIsFree(base), 'nothing was left on the first port');
});

t.test(
  'three masters answer as one cluster, and SIGTERM leaves nothing behind',
  { skip: noRedisServer ? `needs redis-server: ${noRedisServer}` : false },
  async (t) => {
    const base = await freeTriple();
    const run = runScript(['--masters', '3', '--port', String(base)]);
    await until(() => run.output().includes('redis cluster ready') || run.child.exitCode !== null, 'redis cluster ready', 60_000);
    t.ok(run.output().includes('redis cluster ready'), 'says it is ready', { output: run.output() });
    t.match(run.output(), `REDIS_URL=redis://127.0.0.1:${base}`, 'prints the REDIS_URL to use');
    t.match(run.output(), 'REDIS_CLUSTER=true', 'and REDIS_CLUSTER');

    const client = new Cluster([{ host: '127.0.0.1', port: base }]);
    t.teardown(() => client.disconnect());
    const info = String(await client.cluster('INFO'));
    t.match(info, 'cluster_state:ok', 'cluster info: ok');
    t.match(info, 'cluster_known_nodes:3', 'three nodes');
    t.match(info, 'cluster_size:3', 'three masters serving slots');
    await client.set('{probe}:key', 'value');
    t.equal(await client.get('{probe}:key'), 'value', 'a key written through the cluster reads back');
    client.disconnect();

    const started = await descendantsOf(run.child.pid!);
    t.ok(started.length >= 3, `the servers are known (${started.length} processes)`);
    run.child.kill('SIGTERM');
    t.equal(await run.exited, 0, 'SIGTERM: exits with 0');
    t.match(run.output(), 'redis cluster stopped', 'says it stopped');
    t.same(
      started.filter((pid) => isAlive(pid)),
      [],
      'no process it started is left',
    );
    const ports = [0, 1, 2].flatMap((i) => [base + i, base + i + BUS_PORT_OFFSET]);
    const taken = [];
    for (const port of ports) if (!(await portIsFree(port))) taken.push(port);
    t.same(taken, [], `ports ${ports.join(', ')} are free`);
  },
);
