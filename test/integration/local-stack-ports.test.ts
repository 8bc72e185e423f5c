/**
 * `npm start` on a machine where a port it needs is taken: it says which port and
 * which variable moves it, exits 1, and leaves nothing of its own running.
 */
import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { answersHttp as answers, startOwnStackServer, type OwnStackPorts } from '../helpers/own-stack-server.js';
import { dynamoAnswers } from '../../src/local/dynamodb-local.js';

async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return server;
}

/** Runs server.ts with its own local stack on the given ports; resolves with its exit code and output. */
async function start(t: Test, ports: OwnStackPorts) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'huddle-ports-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const server = startOwnStackServer(t, ports, dataDir);
  return { code: await server.exited, output: server.output() };
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
