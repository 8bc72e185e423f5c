/**
 * The load test's `--prepare tables` mode: users and sessions written straight into
 * the tables (as an operator with table access would) are users the service accepts
 * over HTTP and WebSocket, their rooms work, and a run stopped with Ctrl-C still
 * writes its report, marked partial.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { prepareUsers } from '../../scripts/load/prepare-users.js';
import { preparedUserId, writeUsersToTables } from '../../scripts/load/table-users.js';
import { repoRoot } from '../../scripts/load/processes.js';
import type { Target } from '../../scripts/load/load-options.js';
import type { LoadReport } from '../../scripts/load/report.js';
import { startInstance, startTestStack, uniqueId } from '../helpers/test-stack.js';
import { connectReady } from '../helpers/ws-client.js';

const targetOf = (baseUrl: string): Target => {
  const url = new URL(baseUrl);
  return { baseUrl, wsUrl: `ws://${url.host}/ws`, local: true, port: Number(url.port) };
};

t.test('users prepared in the tables sign nobody in over HTTP, yet the service accepts their cookies', async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack, { GROUP_MAX_MEMBERS: '200' });
  const client = createDynamoClient({ region: 'us-east-1', endpoint: stack.dynamodbEndpoint });
  t.teardown(() => client.destroy());

  const prepared = await prepareUsers(
    {
      targets: [targetOf(instance.baseUrl)],
      connections: 4,
      members: 2,
      signInConcurrency: 1,
      tag: uniqueId('pt'),
      tables: { client, tablePrefix: stack.tablePrefix },
    },
    () => {},
  );
  t.equal(prepared.rooms.length, 2, 'two rooms of two, created over the HTTP API with the prepared cookies');

  const [alice, bob] = prepared.rooms[0]!.members;
  const me = await fetch(`${instance.baseUrl}/api/me`, { headers: { cookie: alice!.cookie } });
  t.equal(me.status, 200, '/api/me accepts the cookie');
  const body = (await me.json()) as { user: { username: string; userId: string; tier: string } };
  t.equal(body.user.username, alice!.username);
  t.equal(body.user.userId, preparedUserId(alice!.username));
  t.equal(body.user.tier, 'free');

  const a = await connectReady(instance.wsUrl, alice!.cookie);
  const b = await connectReady(instance.wsUrl, bob!.cookie);
  t.teardown(() => Promise.all([a.client.close(), b.client.close()]));
  t.ok(
    a.hello.chats.some((c) => c.chatId === prepared.rooms[0]!.chatId),
    'the WebSocket hello lists the room',
  );
  a.client.send({ type: 'send', chatId: alice!.chatId, clientMsgId: 'm1', text: 'hello from the tables' });
  t.equal((await a.client.next('ack')).clientMsgId, 'm1', 'the send is acked');
  const delivered = await b.client.next('message');
  t.equal(delivered.message.text, 'hello from the tables', 'the other member receives it');

  const forged = await fetch(`${instance.baseUrl}/api/me`, { headers: { cookie: alice!.cookie.replace(/=.{4}/, '=AAAA') } });
  t.equal(forged.status, 401, 'a cookie that was never written is refused: the rows are what make it valid');
});

t.test('a thousand users are written in batches; any of them is a working session', async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack);
  const client = createDynamoClient({ region: 'us-east-1', endpoint: stack.dynamodbEndpoint });
  t.teardown(() => client.destroy());
  const tag = uniqueId('k');
  const people = Array.from({ length: 1000 }, (_, i) => ({ username: `${tag}u${i}`, secure: false }));

  const started = performance.now();
  const { cookies, requests } = await writeUsersToTables(client, stack.tablePrefix, people);
  t.comment(
    `1,000 users and sessions written in ${((performance.now() - started) / 1000).toFixed(2)} s, ${requests} BatchWriteItem requests`,
  );
  t.equal(cookies.length, 1000);
  t.equal(new Set(cookies).size, 1000, 'every session id is its own');

  for (const i of [0, 517, 999]) {
    const res = await fetch(`${instance.baseUrl}/api/me`, { headers: { cookie: cookies[i]! } });
    t.equal(res.status, 200, `user ${i} is signed in`);
    t.equal(((await res.json()) as { user: { username: string } }).user.username, people[i]!.username);
  }
});

t.test('an https target gets the __Host- cookie the service sets over https', async (t) => {
  const stack = await startTestStack(t);
  const client = createDynamoClient({ region: 'us-east-1', endpoint: stack.dynamodbEndpoint });
  t.teardown(() => client.destroy());
  const { cookies } = await writeUsersToTables(client, stack.tablePrefix, [{ username: uniqueId('s'), secure: true }]);
  t.match(cookies[0], /^__Host-huddle_session=[A-Za-z0-9_-]{43}$/);
});

t.test('Ctrl-C during a load run stops it and still writes the report, marked partial', async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack, { GROUP_MAX_MEMBERS: '200' });
  const dir = await mkdtemp(path.join(tmpdir(), 'huddle-loadtest-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'report.json');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/loadtest.ts',
      ...['--targets', instance.baseUrl, '--connections', '4', '--members', '2', '--rate', '4', '--duration', '120'],
      ...['--prepare', 'tables', '--table-prefix', stack.tablePrefix, '--dynamodb-endpoint', stack.dynamodbEndpoint, '--out', out],
    ],
    { cwd: repoRoot, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The progress line (every 5 s when stderr is not a terminal) says when sending has begun.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the run never reached sending:\n${stderr}`)), 60_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/sending: .*sent [1-9]/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  t.equal(await exited, 130, 'it exits with 130, as a process stopped by Ctrl-C does');
  t.match(stdout, /PARTIAL\s+stopped by SIGINT while sending/, 'the printed report says it is partial');
  const report = JSON.parse(await readFile(out, 'utf8')) as LoadReport;
  t.same(report.partial, { signal: 'SIGINT', phase: 'sending' });
  t.equal(report.users.how, 'tables');
  t.equal(report.connections.made, 4);
  t.ok(report.messages && report.messages.sent > 0, `messages sent before the stop are reported (${report.messages?.sent})`);
  t.equal(report.history, undefined, 'no history read-back after a stop');
});
