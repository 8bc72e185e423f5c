/**
 * npm run bench:idle -- [--connections 2000] [--hold 60] [--servers huddle,socket.io,ws] [--memory-limit 1024]
 *
 * What an idle connection costs, and what an instance costs at rest, for huddle run as
 * the container image runs it (`npm run build`, then `node dist/server.js` with
 * NODE_ENV=production and MALLOC_ARENA_MAX=2, in AWS mode: Cognito settings given, so
 * none of the local stack's emulators is loaded), for the Socket.IO 4 + redis-adapter
 * server of bench:compare, and for a minimal `ws` relay (the floor). The two scripts
 * are bundled with esbuild and run with plain node too, so no server pays for a
 * TypeScript loader.
 *
 * One instance of each, one after the other, on the same Redis. For each: RSS and heap
 * at rest (started, 5 s settled, no connections), then N idle connections in rooms of
 * 10 (huddle's users written into the tables as `loadtest --prepare tables` does, each
 * with its `hello`; for huddle, how long the connects alone took and the DynamoDB
 * requests they made, from the instance's metrics), then RSS and heap again; heap
 * figures are read after a forced full collection (heap-probe.ts); then CPU over
 * --hold seconds of nothing but heartbeats (every 25 s in all three), as a share of
 * one core. With --memory-limit the servers run in a memory cgroup of that size, so
 * V8 sizes its heap as on an ECS task of it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { freePort } from '../../test/helpers/free-port.js';
import { seriesSum } from '../../test/helpers/metrics-text.js';
import { redisServerUnavailable } from '../../test/helpers/redis-server.js';
import { numberOption, parseOptions } from '../load/cli.js';
import { connectAll, disconnectAll, RunTally } from '../load/load-clients.js';
import { inParallel } from '../load/in-parallel.js';
import { createRooms, layoutUsers, type LoadUser } from '../load/prepare-users.js';
import { cpuSeconds, residentMiB } from '../load/proc-stats.js';
import { createMemoryCgroup } from '../load/memory-cgroup.js';
import { repoRoot, serverNode, serverNodeVersion, stopProcess } from '../load/processes.js';
import { startLoadStack } from '../load/stack.js';
import { writeUsersToTables } from '../load/table-users.js';
import type { Target } from '../load/load-options.js';
import { connectSocketIoClients } from './socketio-clients.js';

const SERVERS = ['huddle', 'socket.io', 'ws'] as const;
type ServerKind = (typeof SERVERS)[number];

const usage = `usage: npm run bench:idle -- [options]

  --connections N   idle connections per server (2000; 10 to 20000)
  --hold S          seconds of idle hold over which CPU is measured; heartbeats come every 25 s (60; 10 to 600)
  --servers LIST    which to measure, in order (huddle,socket.io,ws)
  --snapshots       also write a heap snapshot at rest and with the connections (.data/bench-build/snapshots)
  --memory-limit M  run the servers in a Linux memory cgroup of M MiB, as on an ECS task of that size (needs root)`;

const values = parseOptions(
  process.argv.slice(2),
  {
    connections: { type: 'string' },
    hold: { type: 'string' },
    servers: { type: 'string' },
    snapshots: { type: 'boolean' },
    'memory-limit': { type: 'string' },
  },
  usage,
);
const settings = {
  connections: Math.floor(numberOption('connections', values.connections, { default: 2000, min: 10, max: 20_000 })),
  holdSeconds: numberOption('hold', values.hold, { default: 60, min: 10, max: 600 }),
  servers: (values.servers ?? SERVERS.join(',')).split(',').map((name) => {
    if (!(SERVERS as readonly string[]).includes(name)) throw new Error(`--servers: "${name}" is not one of ${SERVERS.join(', ')}`);
    return name as ServerKind;
  }),
  roomSize: 10,
  snapshots: values.snapshots ?? false,
  memoryLimitMiB:
    values['memory-limit'] === undefined
      ? undefined
      : Math.floor(numberOption('memory-limit', values['memory-limit'], { default: 1024, min: 128, max: 65_536 })),
};
const SETTLE_MS = 5000;
const buildDir = path.join(repoRoot, '.data', 'bench-build');
const log = (line = '') => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 1) => +n.toFixed(digits);

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  collected: boolean;
}

interface Result {
  server: ServerKind;
  connections: number;
  restRssMiB: number;
  restHeapMiB: number;
  rssKiBPerConnection: number;
  heapKiBPerConnection: number;
  externalKiBPerConnection: number;
  holdCorePercent: number;
}

/** huddle's build (tsc, as the image's build stage) and the two comparison servers bundled for plain node. */
async function buildEverything(): Promise<void> {
  log('building: npm run build, and bundling the comparison servers');
  const out = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`npm run build failed:\n${out.stdout}\n${out.stderr}`);
  await mkdir(buildDir, { recursive: true });
  await build({
    entryPoints: ['socketio-server.ts', 'ws-relay.ts', 'heap-probe.ts'].map((f) => path.join(repoRoot, 'scripts', 'bench', f)),
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

async function waitReady(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${baseUrl} exited while starting`);
    const ok = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${baseUrl} was not ready within 60 s`);
    await sleep(200);
  }
}

/** SIGWINCH to the probe inside the server: a full collection, then its memory usage. */
async function probe(child: ChildProcess, file: string): Promise<Memory> {
  await rm(file, { force: true });
  child.kill('SIGWINCH');
  const deadline = Date.now() + (settings.snapshots ? 120_000 : 10_000);
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text) return JSON.parse(text) as Memory;
    if (Date.now() > deadline) throw new Error('the heap probe did not answer in time');
    await sleep(100);
  }
}

async function main(): Promise<void> {
  log(`bench:idle ${JSON.stringify(settings)}`);
  await buildEverything();
  const cgroup = settings.memoryLimitMiB === undefined ? undefined : await createMemoryCgroup(settings.memoryLimitMiB);
  const stack = await startLoadStack({ redisUrl: redisServerUnavailable() ? process.env.REDIS_URL : undefined });
  const children: ChildProcess[] = [];
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.all(children.map((c) => stopProcess(c)))
        .then(() => stack.close())
        .then(() => cgroup?.remove())
        .finally(() => process.exit(130));
    });
  }
  const results: Result[] = [];
  try {
    for (const server of settings.servers) {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const probeFile = path.join(buildDir, `probe-${server}-${port}.json`);
      // BENCH_NODE_ARGS reaches the measured servers only, e.g. "--cpu-prof --cpu-prof-dir=prof".
      const extraArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const nodeArgs = ['--expose-gc', '--import', path.join(buildDir, 'heap-probe.mjs'), ...extraArgs];
      const snapshotDir = path.join(buildDir, 'snapshots', server);
      if (settings.snapshots) await mkdir(snapshotDir, { recursive: true });
      const common = {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        HEAP_PROBE_FILE: probeFile,
        HEAP_SNAPSHOT_DIR: settings.snapshots ? snapshotDir : undefined,
      };
      const metricsPort = await freePort();
      const { entry, env } = serverLaunch(server, stack.env, baseUrl, common, metricsPort);
      const launch = cgroup ? cgroup.wrap(serverNode, [...nodeArgs, entry]) : { command: serverNode, args: [...nodeArgs, entry] };
      const child = spawn(launch.command, launch.args, { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await waitReady(baseUrl, child);
      await sleep(SETTLE_MS);
      const rest = await probe(child, probeFile);
      log(`${server}: at rest RSS ${round(rest.rss / 2 ** 20)} MiB, heap ${round(rest.heapUsed / 2 ** 20)} MiB (after a full collection)`);

      const target: Target = { baseUrl, wsUrl: `ws://127.0.0.1:${port}/ws`, local: true, port };
      const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      const users = await connectIdle(server, target, stack.env.DYNAMODB_ENDPOINT!, stack.env.TABLE_PREFIX!, metricsUrl);
      const open = users.filter((u) => u.open).length;
      await sleep(SETTLE_MS);
      const loaded = await probe(child, probeFile);
      const cpuBefore = await cpuSeconds(child.pid!);
      await sleep(settings.holdSeconds * 1000);
      const held = (await cpuSeconds(child.pid!)) - cpuBefore;
      const stillOpen = users.filter((u) => u.open).length;
      const perConnection = (after: number, before: number) => round((after - before) / 1024 / Math.max(1, open), 2);
      const result: Result = {
        server,
        connections: open,
        restRssMiB: round(rest.rss / 2 ** 20),
        restHeapMiB: round(rest.heapUsed / 2 ** 20),
        rssKiBPerConnection: perConnection(loaded.rss, rest.rss),
        heapKiBPerConnection: perConnection(loaded.heapUsed, rest.heapUsed),
        externalKiBPerConnection: perConnection(loaded.external, rest.external),
        holdCorePercent: round((held / settings.holdSeconds) * 100, 2),
      };
      results.push(result);
      log(
        `${server}: ${open} idle connections (${stillOpen} still open after the hold): RSS ${result.rssKiBPerConnection} KiB and heap ` +
          `${result.heapKiBPerConnection} KiB per connection; ${result.holdCorePercent}% of a core over ${settings.holdSeconds} s (RSS now ${round(await residentMiB(child.pid!))} MiB)`,
      );
      disconnectAll(users);
      // The server notices the closes (huddle announces presence) before it is asked to stop.
      await sleep(2000);
      await stopProcess(child);
    }
  } finally {
    await Promise.all(children.map((c) => stopProcess(c)));
    await stack.close();
    await cgroup?.remove();
  }

  log();
  log(
    `summary: ${settings.connections} idle connections per server, rooms of ${settings.roomSize}, one instance, servers on node ${serverNodeVersion()}` +
      (cgroup ? ` in a ${cgroup.limitMiB} MiB memory cgroup` : ''),
  );
  log(
    '  server    | RSS at rest MiB | heap at rest MiB | RSS KiB/conn | heap KiB/conn | external KiB/conn | % of a core, idle with heartbeats',
  );
  for (const r of results) {
    log(
      `  ${r.server.padEnd(9)} | ${String(r.restRssMiB).padStart(15)} | ${String(r.restHeapMiB).padStart(16)} | ${String(r.rssKiBPerConnection).padStart(12)} | ` +
        `${String(r.heapKiBPerConnection).padStart(13)} | ${String(r.externalKiBPerConnection).padStart(17)} | ${r.holdCorePercent}`,
    );
  }
  log(
    '  huddle authenticates every connection against its session row and loads the user, chats and quota; Socket.IO and the ws relay do none of that.',
  );
  log(`json ${JSON.stringify({ settings, results })}`);
}

/** How each server is started: huddle from dist/ in AWS mode against the local tables, Redis and S3 emulator. */
function serverLaunch(
  server: ServerKind,
  stackEnv: Record<string, string>,
  baseUrl: string,
  common: Record<string, string | undefined>,
  metricsPort: number,
): { entry: string; env: Record<string, string | undefined> } {
  switch (server) {
    case 'huddle': {
      const env: Record<string, string | undefined> = {
        ...common,
        ...stackEnv,
        // As the image's Dockerfile sets it; a caller's own value wins, to measure without.
        MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
        PUBLIC_URL: baseUrl,
        // AWS mode, as deployed: sign-in would go to Cognito, which this bench never uses (users are written into the tables).
        COGNITO_USER_POOL_ID: 'us-east-1_bench',
        COGNITO_DOMAIN: 'https://bench.invalid',
        COGNITO_CLIENT_ID: 'bench',
        AWS_REGION: 'us-east-1',
        OIDC_ISSUER: undefined,
        LOG_LEVEL: 'warn',
        HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      };
      return { entry: 'dist/server.js', env: { ...env, METRICS_PORT: String(metricsPort) } };
    }
    case 'socket.io':
      return {
        entry: path.join(buildDir, 'socketio-server.mjs'),
        env: { ...common, REDIS_URL: stackEnv.REDIS_URL, SOCKETIO_KEY: `idle${randomBytes(3).toString('hex')}` },
      };
    case 'ws':
      return { entry: path.join(buildDir, 'ws-relay.mjs'), env: common };
  }
}

/** DynamoDB requests an instance has made so far, retries included, from its metrics. */
async function dynamoRequests(metricsUrl: string): Promise<number> {
  return seriesSum(await (await fetch(metricsUrl)).text(), 'huddle_storage_call_seconds_count{service="dynamodb"');
}

async function connectIdle(
  server: ServerKind,
  target: Target,
  dynamodbEndpoint: string,
  tablePrefix: string,
  metricsUrl: string,
): Promise<LoadUser[]> {
  const tag = Date.now().toString(36);
  const users = layoutUsers([target], settings.connections, settings.roomSize, (i) => `idle${tag}u${i}`);
  const tally = new RunTally();
  const started = performance.now();
  if (server === 'huddle') {
    const db = createDynamoClient({ region: 'us-east-1', endpoint: dynamodbEndpoint });
    try {
      const { cookies } = await writeUsersToTables(
        db,
        tablePrefix,
        users.map((u) => ({ username: u.username, secure: false })),
      );
      for (const [i, user] of users.entries()) user.cookie = cookies[i]!;
    } finally {
      db.destroy();
    }
    await createRooms(users);
    // The connects alone: what a reconnect storm after a deploy or a lost instance costs.
    const requestsBefore = await dynamoRequests(metricsUrl);
    const { seconds } = await connectAll(users, 0, tally);
    const requests = (await dynamoRequests(metricsUrl)) - requestsBefore;
    const open = users.filter((u) => u.open).length;
    log(
      `${server}: the connects alone took ${round(seconds)} s (${Math.round(open / seconds)}/s) and ` +
        `${requests} DynamoDB requests (${round(requests / Math.max(1, open), 2)} per connect)`,
    );
  } else if (server === 'socket.io') {
    for (const user of users) user.chatId = `room${user.room}`;
    await connectSocketIoClients(users, tally);
  } else {
    await inParallel(users, 200, (user) => connectPlain(user, `${target.wsUrl}?room=room${user.room}`));
  }
  log(
    `${server}: ${users.filter((u) => u.open).length} of ${users.length} connected in ${round((performance.now() - started) / 1000)} s` +
      (tally.failed > 0 ? `; failures ${JSON.stringify(tally.connectFailures)}` : ''),
  );
  return users;
}

function connectPlain(user: LoadUser, url: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    user.socket = socket;
    socket.once('open', () => {
      user.open = true;
      resolve();
    });
    socket.once('error', () => resolve());
    socket.once('close', () => {
      user.open = false;
      resolve();
    });
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
