/**
 * `npm start` on a machine where a port it needs is taken: it says which port and
 * which variable moves it, exits 1, and leaves nothing of its own running.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';
import { dynamoAnswers } from '../../src/local/dynamodb-local.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return server;
}

async function answers(url: string) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/** Runs server.ts with its own local stack on the given ports; resolves with its exit code and output. */
async function start(t: Test, ports: { port: number; dynamo: number; s3: number; idp: number }) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'huddle-ports-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // This instance must start its own stack: drop what the test run points at.
    if (value !== undefined && !['DYNAMODB_ENDPOINT', 'REDIS_URL', 'S3_ENDPOINT', 'OIDC_ISSUER'].includes(name)) env[name] = value;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    env: {
      ...env,
      PORT: String(ports.port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${ports.port}`,
      LOG_LEVEL: 'warn',
      LOCAL_DATA_DIR: dataDir,
      LOCAL_DYNAMODB_PORT: String(ports.dynamo),
      LOCAL_S3_PORT: String(ports.s3),
      LOCAL_IDP_PORT: String(ports.idp),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, output };
}

async function freePorts() {
  const [port, dynamo, s3, idp] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  return { port, dynamo, s3, idp };
}

t.test('a taken stack port is named with its variable, and nothing is started', async (t) => {
  const ports = await freePorts();
  const blocker = await occupy(ports.dynamo);
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const { code, output } = await start(t, ports);
  t.equal(code, 1, 'it exits 1');
  t.match(
    output,
    new RegExp(`port ${ports.dynamo} \\(DynamoDB Local\\) is already in use.*LOCAL_DYNAMODB_PORT`),
    'it names the port and the variable',
  );
  t.notOk(await answers(`http://127.0.0.1:${ports.s3}`), 'the S3 emulator was not started');
  t.notOk(await answers(`http://127.0.0.1:${ports.idp}/.well-known/openid-configuration`), 'nor the sign-in provider');
});

t.test('a taken PORT stops the stack it started and says which port', async (t) => {
  const ports = await freePorts();
  const blocker = await occupy(ports.port);
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const { code, output } = await start(t, ports);
  t.equal(code, 1, 'it exits 1');
  t.match(output, new RegExp(`port ${ports.port} is already in use.*set PORT`), 'it names the port and the variable');
  t.notOk(await dynamoAnswers(`http://127.0.0.1:${ports.dynamo}`), 'DynamoDB Local is not left running');
  t.notOk(await answers(`http://127.0.0.1:${ports.s3}`), 'nor the S3 emulator');
  t.notOk(await answers(`http://127.0.0.1:${ports.idp}/.well-known/openid-configuration`), 'nor the sign-in provider');
});
