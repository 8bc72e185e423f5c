/**
 * What a benchmark runs against, started in this process: DynamoDB Local (in
 * memory), a throwaway redis-server (or the Redis at REDIS_URL), the S3 emulator,
 * the local sign-in provider, and N huddle instances as separate processes (so
 * their CPU and memory can be read on their own).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/free-port.js';
import { startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { startS3Emulator } from '../../src/local/s3-emulator.js';
import { LOCAL_CLIENT_ID, startIdentityProvider } from '../../src/local/identity-provider.js';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * BENCH_INSTANCE_ROOT runs the instances from another checkout (with its own
 * node_modules), e.g. an earlier commit, so that two versions are measured by the
 * same load generator against the same stack.
 */
const instanceRoot = process.env.BENCH_INSTANCE_ROOT ? path.resolve(process.env.BENCH_INSTANCE_ROOT) : repoRoot;

export interface BenchInstance {
  baseUrl: string;
  wsUrl: string;
  pid: number;
}

export interface BenchStack {
  env: Record<string, string>;
  redisUrl: string;
  startInstances(count: number, extraEnv?: Record<string, string>): Promise<BenchInstance[]>;
  close(): Promise<void>;
}

async function startRedis(): Promise<{ url: string; close(): Promise<void> }> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    const url = process.env.REDIS_URL;
    if (!url) throw new Error('No redis-server binary and no REDIS_URL: nothing to run the bus on');
    return { url, close: async () => {} };
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, close: () => stopProcess(child) };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

export async function startBenchStack(): Promise<BenchStack> {
  const closers: (() => Promise<void>)[] = [];
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  closers.push(() => dynamo.close());
  const redis = await startRedis();
  closers.push(() => redis.close());
  const s3Dir = await mkdtemp(path.join(tmpdir(), 'huddle-bench-s3-'));
  const s3 = await startS3Emulator({ port: 0, directory: s3Dir, bucket: 'huddle-bench' });
  closers.push(async () => {
    await s3.close();
    await rm(s3Dir, { recursive: true, force: true });
  });
  const idp = await startIdentityProvider({ port: 0 });
  closers.push(() => idp.close());

  const prefix = `bench${Date.now().toString(36)}-`;
  const raw = createDynamoClient({ region: 'us-east-1', endpoint: dynamo.endpoint });
  await ensureTables(raw, tableNames(prefix));
  raw.destroy();

  const env = {
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    TABLE_PREFIX: prefix,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: 'huddle-bench',
    OIDC_ISSUER: idp.issuer,
    COGNITO_CLIENT_ID: LOCAL_CLIENT_ID,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
  };

  const children: ChildProcess[] = [];
  const close = async () => {
    await Promise.all(children.map(stopProcess));
    for (const closer of closers.reverse()) await closer().catch(() => {});
  };
  // A benchmark stopped with Ctrl-C or SIGTERM leaves nothing running behind it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the benchmark's processes\n`);
      void close().finally(() => process.exit(130));
    });
  }
  return {
    env,
    redisUrl: redis.url,
    async startInstances(count, extraEnv = {}) {
      const instances: BenchInstance[] = [];
      for (let i = 0; i < count; i++) {
        const port = await freePort();
        const baseUrl = `http://127.0.0.1:${port}`;
        // BENCH_NODE_ARGS reaches the instances only, e.g. "--cpu-prof --cpu-prof-dir=prof".
        const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
        const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
          cwd: instanceRoot,
          env: { ...process.env, ...env, PORT: String(port), PUBLIC_URL: baseUrl, ...extraEnv },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(child);
        await waitForHealth(baseUrl, child);
        instances.push({ baseUrl, wsUrl: `ws://127.0.0.1:${port}/ws`, pid: child.pid! });
      }
      return instances;
    },
    close,
  };
}

async function waitForHealth(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`instance at ${baseUrl} exited while starting`);
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`instance at ${baseUrl} was not ready within 60 s`);
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicksPerSecond();
}

let ticksPerSecond: number | undefined;
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticksPerSecond = Number(out.stdout.trim()) || 100;
  }
  return ticksPerSecond;
}

/** Resident memory of a process, in MiB. */
export async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
