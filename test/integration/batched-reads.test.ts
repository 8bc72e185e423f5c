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

t.test('150 connects at once read their rows in two requests, each getting its own', async (t) => {
  const client = createDynamoClient({ region: 'us-east-1', endpoint: requireEnv('DYNAMODB_ENDPOINT') });
  t.teardown(() => client.destroy());
  const tables = tableNames(`${uniqueId('reads')}-`);
  await ensureTables(client, tables);
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
