/**
 * npm run bench:dynamo: what one DynamoDB request costs the calling process, through
 * the AWS SDK (the way huddle calls it) and as a bare HTTP request of the same kind,
 * against DynamoDB Local. The send path makes several such requests per message,
 * so this is the floor under the server CPU that bench:fanout reports.
 *
 * Knob: BENCH_REQUESTS (1000).
 */
import http from 'node:http';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { createDynamoClients } from '../../src/adapters/dynamodb/client.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { freePort } from '../../test/helpers/free-port.js';

const requests = Number(process.env.BENCH_REQUESTS ?? 1000);

async function measure(label: string, once: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 100; i++) await once(i);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < requests; i++) await once(i);
  const wallMs = (performance.now() - t0) / requests;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    `${label.padEnd(28)} wall ${wallMs.toFixed(2)} ms/request, client CPU ${((cpu.user + cpu.system) / 1000 / requests).toFixed(2)} ms/request\n`,
  );
}

const dynamo = await startDynamoDbLocal({ port: await freePort() });
const { raw, doc } = createDynamoClients({ region: 'us-east-1', endpoint: dynamo.endpoint });
try {
  const names = tableNames(`cost${Date.now().toString(36)}-`);
  await ensureTables(raw, names);
  await measure('SDK GetItem', (i) => doc.send(new GetCommand({ TableName: names.users, Key: { user_id: `u${i % 10}` } })));
  await measure('SDK UpdateItem', (i) =>
    doc.send(
      new UpdateCommand({
        TableName: names.users,
        Key: { user_id: `u${i % 10}` },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    ),
  );
  const agent = new http.Agent({ keepAlive: true });
  const body = JSON.stringify({ TableName: names.users, Key: { user_id: { S: 'u1' } } });
  await measure('bare HTTP GetItem (unsigned)', () => {
    return new Promise<void>((resolve, reject) => {
      const req = http.request(
        dynamo.endpoint,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': 'DynamoDB_20120810.GetItem',
            authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  });
  agent.destroy();
} finally {
  raw.destroy();
  await dynamo.close();
}
