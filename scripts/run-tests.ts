/**
 * `npm test`: starts DynamoDB Local (in memory) and a private redis-server on free
 * ports, runs every test file through tap with DYNAMODB_ENDPOINT and REDIS_URL set,
 * stops both services whatever happens, and ends with the plain line
 * `N passed, N failed` (CI reads that line, not tap's own summary).
 *
 *   npm test                                   every test/**\/*.test.ts
 *   npm test -- test/unit/config.test.ts       only the files given
 *   npm test -- --jobs=1 test/unit             a folder's test files; tap options pass through as --name=value
 *
 * A `DYNAMODB_ENDPOINT` already in the environment is used instead of starting one.
 * Without a `redis-server` binary, the Redis at `REDIS_URL` is used.
 *
 * Counting: a "test" is a subtest that holds no further subtests, or an assertion
 * made outside such a subtest. A test file that fails without any failing test
 * (a crash, a timeout, a non-zero exit) counts as one failure under its own name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, type Result } from 'tap-parser';
import { dynamoAnswers, startDynamoDbLocal } from '../src/local/dynamodb-local.js';
import { redisServerUnavailable, startRedisServer } from '../src/local/redis-server.js';
import { freePort } from '../src/local/free-ports.js';
import { buildPage } from './build-page.js';

/** Test files run at once unless `--jobs` says otherwise. */
const TEST_JOBS = 4;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What this script started; stopped on every way out. */
const services: { name: string; close(): Promise<void> }[] = [];
/** The running tap process (leader of its own process group). */
let currentTap: ChildProcess | undefined;

function note(message: string) {
  process.stderr.write(`[test] ${message}\n`);
}

class SetupError extends Error {}

// ---------------------------------------------------------------- services

async function startDynamoDb(): Promise<string> {
  const preset = process.env.DYNAMODB_ENDPOINT;
  if (preset) {
    if (!(await dynamoAnswers(preset))) throw new SetupError(`DYNAMODB_ENDPOINT=${preset} is set but nothing answers there.`);
    note(`DynamoDB: using ${preset}`);
    return preset;
  }
  const startedAt = Date.now();
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  services.push({ name: 'DynamoDB Local', close: () => dynamo.close() });
  note(`DynamoDB Local ready at ${dynamo.endpoint} (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
  return dynamo.endpoint;
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}

async function startRedis(): Promise<string> {
  const unavailable = redisServerUnavailable();
  if (!unavailable) {
    const server = await startRedisServer();
    services.push({ name: 'redis-server', close: () => server.close() });
    note(`Redis ready at ${server.url}`);
    return server.url;
  }
  const preset = process.env.REDIS_URL;
  if (preset) {
    let target: URL;
    try {
      target = new URL(preset);
    } catch {
      throw new SetupError('REDIS_URL is set but is not a URL.');
    }
    if (!(await tcpAnswers(target.hostname, Number(target.port || 6379)))) {
      throw new SetupError(`REDIS_URL points at ${target.host}, but nothing answers there.`);
    }
    note(`Redis: ${unavailable}; using REDIS_URL (${target.host})`);
    return preset;
  }
  throw new SetupError(
    'The tests need Redis: install redis-server (Debian: apt-get install redis-server) or set REDIS_URL to a running Redis.',
  );
}

async function stopServices(): Promise<void> {
  const running = services.splice(0);
  await Promise.all(running.map((s) => s.close().catch((err: unknown) => note(`stopping ${s.name} failed: ${String(err)}`))));
}

// ---------------------------------------------------------------- test files

function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTestFiles(full));
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

function splitArgs(args: string[]): { files: string[]; options: string[] } {
  const files: string[] = [];
  const options: string[] = [];
  for (const arg of args) (arg.startsWith('-') ? options : files).push(arg);
  return { files, options };
}

// ---------------------------------------------------------------- counting

interface Tally {
  passed: number;
  failed: string[];
  skipped: string[];
  bailedOut: string | undefined;
}

interface Scope {
  parent: Scope | undefined;
  failures: number;
  hasSubtests: boolean;
  assertions: { name: string; result: Result }[];
}

/**
 * Follows tap's raw TAP stream (test files are the top-level subtests) and tallies
 * tests as described at the top of this file.
 */
function createTally(): { tally: Tally; parser: Parser } {
  const tally: Tally = { passed: 0, failed: [], skipped: [], bailedOut: undefined };
  const parser = new Parser();
  parser.on('bailout', (reason: string) => (tally.bailedOut = reason || 'bailed out'));

  function markFailed(scope: Scope, name: string) {
    tally.failed.push(name);
    for (let s: Scope | undefined = scope; s; s = s.parent) s.failures += 1;
  }

  function count(scope: Scope, name: string, result: Result) {
    if (result.skip || result.todo) tally.skipped.push(`${name} (${result.skip ? 'skip' : 'todo'})`);
    else if (result.ok) tally.passed += 1;
    else markFailed(scope, name);
  }

  /**
   * A scope's own assertions are held until it closes: then we know whether it was a
   * group (they count) or a test (only its own result counts). A file is a group.
   */
  function follow(source: Parser, trail: string[], parentScope: Scope | undefined): Scope {
    const scope: Scope = { parent: parentScope, failures: 0, hasSubtests: false, assertions: [] };
    let justClosed: Scope | undefined;
    source.on('child', (child: Parser) => {
      scope.hasSubtests = true;
      justClosed = follow(child, [...trail, child.name], scope);
    });
    source.on('assert', (result: Result) => {
      const subtest = justClosed;
      justClosed = undefined;
      const name = [...trail, result.name].join(' > ');
      if (!subtest) {
        if (parentScope) scope.assertions.push({ name, result });
        // Directly under the runner, a result with no subtest is a file that never started.
        else count(scope, name, result);
        return;
      }
      const isFile = !parentScope;
      if (!isFile && !subtest.hasSubtests) {
        count(scope, name, result);
        return;
      }
      for (const assertion of subtest.assertions) count(subtest, assertion.name, assertion.result);
      if (result.skip) tally.skipped.push(`${name} (skip)`);
      else if (!result.ok && !result.todo && subtest.failures === 0) {
        // The group or file failed without a failing test: a crash, a timeout, a non-zero exit.
        const diag = (result.diag ?? {}) as { signal?: string; exitCode?: number };
        const why = diag.signal ? `signal ${diag.signal}` : diag.exitCode ? `exit code ${diag.exitCode}` : 'failed outside any test';
        markFailed(scope, `${name} (${why})`);
      }
    });
    return scope;
  }

  follow(parser, [], undefined);
  return { tally, parser };
}

// ---------------------------------------------------------------- run

async function runTap(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; tally: Tally }> {
  const { files, options } = splitArgs(args);
  const asFiles = (entry: string) => {
    const full = path.resolve(root, entry);
    const isDirectory = statSync(full, { throwIfNoEntry: false })?.isDirectory();
    return isDirectory
      ? findTestFiles(full)
          .map((f) => path.relative(root, f))
          .sort()
      : [entry];
  };
  const testFiles = (files.length > 0 ? files : ['test']).flatMap(asFiles);
  const { tally, parser } = createTally();
  if (testFiles.length === 0) {
    note('no test files found under test/');
    return { code: 0, tally };
  }

  // tap's own reporters redraw the screen; only a terminal should get them. Elsewhere
  // (CI logs) tap prints raw TAP, which is also what gets counted.
  const reporterChosen = options.some((o) => o.startsWith('-R') || o.startsWith('--reporter'));
  const useTerminalReporter = Boolean(process.stdout.isTTY) || reporterChosen;
  const tap = path.join(root, 'node_modules', '.bin', 'tap');

  const outDir = useTerminalReporter ? await mkdtemp(path.join(tmpdir(), 'huddle-tap-')) : undefined;
  const rawFile = outDir ? path.join(outDir, 'run.tap') : undefined;
  // Most test files spend their time waiting (on sockets, timers, a browser, a child
  // process's start), not computing: more files than cores at once finish sooner.
  const jobs = options.some((o) => o.startsWith('--jobs') || o.startsWith('-j')) ? [] : [`--jobs=${TEST_JOBS}`];
  const tapArgs = [...(rawFile ? [`--output-file=${rawFile}`] : ['--reporter=tap']), ...jobs, ...options, ...testFiles];
  const child = spawn(tap, tapArgs, {
    cwd: root,
    env,
    stdio: rawFile ? 'inherit' : ['inherit', 'pipe', 'inherit'],
    // Its own process group, so a signal can reach tap and the test processes it started.
    detached: true,
  });
  currentTap = child;
  if (!rawFile) {
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      parser.write(chunk);
    });
  }
  const code = await new Promise<number>((resolve) => {
    child.once('error', (err) => {
      note(`could not run tap: ${err.message}`);
      resolve(1);
    });
    child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
  });
  currentTap = undefined;
  if (rawFile && outDir) {
    try {
      if (statSync(rawFile).size > 0) {
        await new Promise<void>((resolve, reject) => {
          createReadStream(rawFile).on('error', reject).on('end', resolve).pipe(parser);
        });
      }
    } catch (err) {
      note(`could not read tap's raw output: ${err instanceof Error ? err.message : String(err)}`);
    }
    await rm(outDir, { recursive: true, force: true });
  } else {
    parser.end();
  }
  return { code, tally };
}

function printSummary(code: number, tally: Tally): number {
  const failed = [...tally.failed];
  if (tally.bailedOut) failed.push(`bailed out: ${tally.bailedOut}`);
  if (code !== 0 && failed.length === 0) failed.push(`tap exited with code ${code} (see its output above)`);
  const lines = [''];
  if (tally.skipped.length > 0) lines.push('Skipped:', ...tally.skipped.map((n) => `  - ${n}`));
  if (failed.length > 0) lines.push('Failed:', ...failed.map((n) => `  - ${n}`));
  let summary = `${tally.passed} passed, ${failed.length} failed`;
  if (tally.skipped.length > 0) summary += `, ${tally.skipped.length} skipped`;
  lines.push(summary);
  process.stdout.write(`${lines.join('\n')}\n`);
  return failed.length;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopTap(signal: NodeJS.Signals): Promise<void> {
  const child = currentTap;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('close', resolve));
  killGroup(child, signal);
  const force = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(force);
  killGroup(child, 'SIGKILL'); // test processes that outlived tap
}

let stopping = false;
async function shutDownOnSignal(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  note(`${signal}: stopping`);
  await stopTap(signal);
  await stopServices();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
process.on('SIGINT', () => void shutDownOnSignal('SIGINT'));
process.on('SIGTERM', () => void shutDownOnSignal('SIGTERM'));
// Last resort if something throws past the handlers below: never leave the test processes behind.
process.on('exit', () => {
  if (currentTap && currentTap.exitCode === null) killGroup(currentTap, 'SIGKILL');
});

async function main(): Promise<number> {
  // Instances serve the bundled page from dist/public, as under `npm start`: a fresh clone has none yet.
  const page = await buildPage();
  note(`page bundled: ${page.script}`);
  // Both start together; allSettled so that neither is still starting when a failure stops the other.
  const [dynamo, redis] = await Promise.allSettled([startDynamoDb(), startRedis()]);
  if (dynamo.status === 'rejected' || redis.status === 'rejected') {
    await stopServices();
    for (const outcome of [dynamo, redis]) {
      if (outcome.status !== 'rejected') continue;
      const err: unknown = outcome.reason;
      process.stderr.write(
        `\nCannot run the tests: ${err instanceof SetupError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    process.stdout.write('0 passed, 1 failed\n');
    return 1;
  }
  const env = { ...process.env, DYNAMODB_ENDPOINT: dynamo.value, REDIS_URL: redis.value };
  let result;
  try {
    result = await runTap(process.argv.slice(2), env);
  } finally {
    await stopServices();
  }
  const failures = printSummary(result.code, result.tally);
  return result.code !== 0 ? result.code : failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    await stopServices();
    process.stderr.write(`run-tests failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
