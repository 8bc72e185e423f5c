/**
 * Throwaway `redis-server` processes: a single server, or several cluster-enabled
 * servers joined into one Redis Cluster. For what the shared Redis cannot be used
 * for: tests that stop and restart Redis or need a cluster, benchmarks that want a
 * Redis of their own, and `npm run redis:cluster`. Nothing is persisted
 * (`--save '' --appendonly no`); each server's files (a cluster's nodes.conf) sit
 * in a temporary folder removed on close.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-ports.js';

/** Why a throwaway Redis cannot be started here, or undefined when it can. */
export function redisServerUnavailable(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) return `no redis-server binary on PATH (${probe.error.message})`;
  if (probe.status !== 0) return `redis-server --version exited with ${probe.status}`;
  return undefined;
}

export interface RedisServer {
  port: number;
  url: string;
  /** The running process's id, undefined while it is not running. */
  pid(): number | undefined;
  /** Kills the process the way a crash would (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (a cluster node keeps its nodes.conf, so its place in the cluster). */
  restart(): Promise<void>;
  /** Kills it (if running) and removes its folder. */
  close(): Promise<void>;
}

const READY_LINE = 'Ready to accept connections';

function waitForReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port} was not ready in 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(READY_LINE)) done();
    };
    const onExit = (code: number | null) =>
      fail(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining its output so a full pipe never stalls the server.
      child.stdout?.resume();
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (err: Error) => {
      cleanup();
      child.kill('SIGKILL');
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Starts a redis-server on 127.0.0.1 on a free port (or `port`); `args` are extra command-line options. */
export async function startRedisServer(opts: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = await mkdtemp(path.join(tmpdir(), 'huddle-redis-'));
  let child: ChildProcess | undefined;

  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(opts.args ?? [])];
    child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await waitForReady(child, port);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid,
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async close() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  /** Any node's URL: the seed a cluster client starts from. */
  url: string;
  /** The servers, one master each; a restarted one rejoins with its slots (its nodes.conf survives). */
  nodes: RedisServer[];
  close(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Masters, each owning an equal share of the slots; no replicas. @default 3 */
  masters?: number;
  /** The first node's port, the others on the ports after it; default free ports anywhere. */
  basePort?: number;
}

/** Starts cluster-enabled servers and joins them into one cluster with no replicas; resolves once it reports `cluster_state:ok`. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  // redis-cli refuses to create a cluster of fewer than three masters.
  if (!Number.isInteger(masters) || masters < 3) throw new Error(`a Redis Cluster needs at least 3 masters (got ${masters})`);
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = options.basePort === undefined ? undefined : options.basePort + i;
      servers.push(await startRedisServer({ port, args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] }));
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitForClusterOk(servers.map((s) => s.port));
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return {
    url: servers[0]!.url,
    nodes: servers,
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

/** `cluster_state:ok` on every node: each has learnt the others' slots, so a client may start from any of them. */
async function waitForClusterOk(ports: number[]): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const infos = await Promise.all(ports.map((port) => run('redis-cli', ['-p', String(port), 'cluster', 'info'])));
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the cluster on ports ${ports.join(', ')} never reported cluster_state:ok on every node`);
}

/** Runs a command without blocking the event loop (whatever else runs in this process keeps running meanwhile). */
async function run(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { encoding: 'utf8', timeout: 30_000 });
    return stdout;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: err });
  }
}
