/**
 * Consistent whole-row reads asked for in one turn of the event loop (a burst of
 * sockets connecting) travel together as BatchGetItem requests against DynamoDB
 * Local, and each caller still gets exactly its own row.
 */
import t from 'tap';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames, userKey } from '../../src/adapters/dynamodb/table.js';
import { requireEnv, uniqueId } from '../helpers/test-stack.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** A client of its own and fresh tables, so that the requests each case counts are its own. */
async function freshTables(t: Tap) {
  const client = createDynamoClient({ region: 'us-east-1', endpoint: requireEnv('DYNAMODB_ENDPOINT') });
  t.teardown(() => client.destroy());
  const tables = tableNames(`${uniqueId('reads')}-`);
  await ensureTables(client, tables);
  return { client, tables };
}

t.test('150 connects at once read their rows in two requests, each getting its own', async (t) => {
  const { client, tables } = await freshTables(t);
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const db = documentsOver(client);
  const ids = Array.from({ length: 150 }, (_, i) => `user-${i}`);
  for (const id of ids.filter((_, i) => i % 3 !== 0)) {
    await db.put({ TableName: tables.users, Item: { ...userKey(id), username: id, created_at: 1 } });
  }
  sent.length = 0;

  // Every id asked for twice: two tabs of one person connecting together share one answer.
  const reads = await Promise.all(
    [...ids, ...ids].map((id) => db.get({ TableName: tables.users, Key: userKey(id), ConsistentRead: true })),
  );

  t.same(sent, ['BatchGetItemCommand', 'BatchGetItemCommand'], '300 reads of 150 keys went out as two BatchGetItem requests');
  [...ids, ...ids].forEach((id, i) => {
    const row = reads[i];
    if (Number(id.slice(5)) % 3 === 0) t.equal(row, undefined, `${id} has no row`);
    else t.equal(row?.username, id, `${id} got its own row`);
  });

  sent.length = 0;
  const alone = await db.get({ TableName: tables.users, Key: userKey('user-1'), ConsistentRead: true });
  t.equal(alone?.username, 'user-1', 'a read on a quiet instance waits for nothing else');
  t.same(sent, ['BatchGetItemCommand']);
});

t.test('under load, reads wait for a request in flight and leave together, each still seeing writes done before it', async (t) => {
  const { client, tables } = await freshTables(t);
  const sent: number[] = [];
  // The first answers are held back, as a slow network would, so that what follows finds their requests in flight.
  const held: (() => void)[] = [];
  let holding = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchGetItemCommand') return next(args);
      const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
      sent.push(Object.values(input.RequestItems)[0]!.Keys.length);
      const output = await next(args);
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
      return output;
    },
    { step: 'initialize', name: 'holdRequests' },
  );
  const db = documentsOver(client);
  const ids = Array.from({ length: 60 }, (_, i) => `user-${i}`);
  for (const id of ids) await db.put({ TableName: tables.users, Item: { ...userKey(id), username: id, created_at: 1 } });
  const read = (id: string) => db.get({ TableName: tables.users, Key: userKey(id), ConsistentRead: true });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  holding = true;
  const first = read('user-0');
  await nextTurn();
  const second = read('user-1');
  await nextTurn();
  t.same(sent, [1, 1], 'the first two turns each sent their read at once');
  while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));

  // A write lands after user-0's request went out: a read asked for now must not share that answer.
  await db.put({ TableName: tables.users, Item: { ...userKey('user-0'), username: 'renamed', created_at: 2 } });
  const later: Promise<Record<string, unknown> | undefined>[] = [];
  for (const id of ['user-0', ...ids.slice(2)]) {
    later.push(read(id));
    await nextTurn();
  }
  t.same(sent, [1, 1], 'with two requests out, 59 reads over 59 turns wait');

  holding = false;
  for (const release of held.splice(0)) release();
  const [firstRow, secondRow, ...laterRows] = await Promise.all([first, second, ...later]);
  t.same(sent, [1, 1, 59], 'the waiting reads left as one request when the first came back');
  t.equal(firstRow?.username, 'user-0', 'the read answered before the write has the old row');
  t.equal(secondRow?.username, 'user-1');
  t.equal(laterRows[0]?.username, 'renamed', 'the read asked for after the write sees it');
  laterRows.slice(1).forEach((row, i) => t.equal(row?.username, ids[i + 2], `${ids[i + 2]} got its own row`));
});

t.test('requests that hang hold the reads behind them back for a moment, not until they time out', async (t) => {
  const { client, tables } = await freshTables(t);
  const hung: (() => void)[] = [];
  let hanging = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // As on a connection that died without a reset: no answer until the SDK's 10 s timeout.
      if (context.commandName === 'BatchGetItemCommand' && hanging) await new Promise<void>((resolve) => hung.push(resolve));
      return next(args);
    },
    { step: 'initialize', name: 'hangRequests' },
  );
  t.teardown(() => hung.forEach((release) => release()));
  const db = documentsOver(client);
  await db.put({ TableName: tables.users, Item: { ...userKey('alice'), username: 'alice', created_at: 1 } });
  const read = (id: string) => db.get({ TableName: tables.users, Key: userKey(id), ConsistentRead: true });

  void read('first');
  await new Promise((resolve) => setImmediate(resolve));
  void read('second');
  while (hung.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  hanging = false;

  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), 5_000)));
  const row = await Promise.race([read('alice'), gaveUp]);
  clearTimeout(timer);
  t.not(row, 'still waiting', 'a read behind two hung requests went out on its own');
  t.equal(typeof row === 'object' ? row?.username : undefined, 'alice', 'and got its row');
});
