/**
 * `npm start` as an operator runs it: its own local stack, then SIGTERM. Sockets are
 * told to go elsewhere (1012), the process exits 0, and nothing it started keeps
 * running (DynamoDB Local's Java process, the S3 emulator, the sign-in provider).
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { signIn } from '../helpers/sign-in.js';
import { connectReady } from '../helpers/ws-client.js';
import { dynamoAnswers } from '../../src/local/dynamodb-local.js';
import { answersHttp as answers, startOwnStackServer } from '../helpers/own-stack-server.js';

t.test('SIGTERM closes sockets with 1012, stops the local stack and exits 0', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'huddle-shutdown-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const [port, dynamoPort, s3Port, idpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = startOwnStackServer(t, { port, dynamo: dynamoPort, s3: s3Port, idp: idpPort }, dataDir);
  const { child, exited } = server;

  const deadline = Date.now() + 90_000;
  while (!(await answers(`${baseUrl}/healthz`))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the instance did not start:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  t.match(server.output(), /huddle is running: open/, 'it says where to go');
  t.match(server.output(), /Sign in with any username/, 'and how to sign in');
  t.ok(existsSync(path.join(dataDir, 'stack.json')), 'the stack is recorded for other instances to join');

  const { cookie } = await signIn(baseUrl, 'shutdown-user');
  const { client } = await connectReady(`ws://127.0.0.1:${port}/ws`, cookie);

  child.kill('SIGTERM');
  const closed = await client.closed;
  t.equal(closed.code, 1012, 'open sockets are told to reconnect elsewhere');
  t.equal(await exited, 0, 'the process exits cleanly');
  t.notOk(await dynamoAnswers(`http://127.0.0.1:${dynamoPort}`), 'DynamoDB Local is stopped');
  t.notOk(await answers(`http://127.0.0.1:${s3Port}`), 'the S3 emulator is stopped');
  t.notOk(await answers(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`), 'the sign-in provider is stopped');
  t.notOk(existsSync(path.join(dataDir, 'stack.json')), 'and the stack record is gone');
});
