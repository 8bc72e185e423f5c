/**
 * npm run bench:dynamo: what one DynamoDB request costs the calling process through the
 * AWS SDK v3, in the client configuration huddle uses today and in variants of it, against
 * a DynamoDB Local that this script starts itself. Findings: docs/sdk-cost.md.
 *
 * Two phases:
 *   1. against DynamoDB Local: this process's CPU per request (process.cpuUsage: all its
 *      threads, so JIT compilation and GC helpers count), its main thread's share, DynamoDB
 *      Local's own CPU (the Java process's /proc/<pid>/stat, 10 ms ticks) and wall time;
 *   2. SDK only: the same clients with a request handler that answers from memory, so
 *      sockets, HTTP and DynamoDB Local drop out and what is left is the SDK's own work.
 * Before both, the first requests of the process are timed (the JIT warm-up curve).
 *
 * Method: every (configuration, request kind) cell is warmed up first, then measured in
 * BENCH_ROUNDS rounds; within a round the cells run in a shuffled order, so that drift and
 * other work on the machine spread over all of them. Each figure is the median of the
 * rounds, with the spread (min–max) beside it; the figures read from 10 ms tick counters (main
 * thread, DynamoDB Local) are means over all rounds. Compare ratios within one run only.
 *
 * Knobs (environment):
 *   BENCH_ROUNDS (10)       measured rounds per cell
 *   BENCH_REQUESTS (150)    requests per cell and round for one-item kinds against DynamoDB
 *                           Local (five times as many in the SDK-only phase, a quarter as many
 *                           for the kinds with pauses, which run last); a kind of N items runs
 *                           BENCH_REQUESTS / sqrt(N) of them
 *   BENCH_WARMUP (300)      requests per cell discarded before measuring (scaled the same way),
 *   BENCH_WARMUP_TOTAL (6000)  and at least this many in all (passes over the cells repeat)
 *   BENCH_CURVE (3000)      requests of the first-requests curve (0 skips it)
 *   BENCH_CONFIGS, BENCH_KINDS   comma-separated ids to run (default: all; ids are printed)
 *   BENCH_NETWORK=0, BENCH_CANNED=0   skip a phase
 *   BENCH_PROFILE           a folder: write a .cpuprofile of the first phase's measured rounds
 *                           there (summarise it with scripts/bench/cpuprofile-top.ts)
 *
 * On 2 cores this process and the Java process already share the machine: run it quiet.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand as DocQueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { createToolClients } from '../../src/adapters/dynamodb/client.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames, type TableNames } from '../../src/adapters/dynamodb/table.js';
import { freePort } from '../../test/helpers/free-port.js';

const settings = {
  rounds: Number(process.env.BENCH_ROUNDS ?? 10),
  requests: Number(process.env.BENCH_REQUESTS ?? 150),
  warmup: Number(process.env.BENCH_WARMUP ?? 300),
  warmupTotal: Number(process.env.BENCH_WARMUP_TOTAL ?? 6000),
  curve: Number(process.env.BENCH_CURVE ?? 3000),
  configs: process.env.BENCH_CONFIGS?.split(',').filter(Boolean),
  kinds: process.env.BENCH_KINDS?.split(',').filter(Boolean),
  profile: process.env.BENCH_PROFILE,
  canned: process.env.BENCH_CANNED !== '0',
  network: process.env.BENCH_NETWORK !== '0',
};

const log = (line = '') => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------------------
// Request kinds. Each kind is written once per API style: the document client
// (plain JavaScript values, marshalled by lib-dynamodb), the plain client with
// AttributeValues written by hand, and the plain client with util-dynamodb's
// marshall()/unmarshall().

type Style = 'doc' | 'plain' | 'plainUtil' | 'bare';

interface KindSpec {
  id: string;
  label: string;
  /** Items written or read per request: CPU per item = CPU per request / items. */
  items: number;
  /** In-flight requests (1: one after the other). */
  concurrency: number;
  /**
   * Milliseconds of idleness before each request, as in a server at a low request rate; only
   * the requests are timed, not the pauses.
   */
  idleMs?: number;
  /** The request it repeats (default: its own id). */
  base?: string;
}

const KINDS: KindSpec[] = [
  { id: 'get', label: 'GetItem', items: 1, concurrency: 1 },
  { id: 'put', label: 'PutItem (conditional)', items: 1, concurrency: 1 },
  { id: 'update', label: 'UpdateItem, ReturnValues', items: 1, concurrency: 1 },
  { id: 'query', label: 'Query, 20 items back', items: 20, concurrency: 1 },
  { id: 'tx2', label: 'TransactWriteItems 2', items: 2, concurrency: 1 },
  { id: 'tx25', label: 'TransactWriteItems 25', items: 25, concurrency: 1 },
  { id: 'tx50', label: 'TransactWriteItems 50', items: 50, concurrency: 1 },
  { id: 'tx100', label: 'TransactWriteItems 100', items: 100, concurrency: 1 },
  { id: 'batch25', label: 'BatchWriteItem 25', items: 25, concurrency: 1 },
  { id: 'get32', label: 'GetItem, 32 in flight', items: 1, concurrency: 32 },
  { id: 'put32', label: 'PutItem, 32 in flight', items: 1, concurrency: 32 },
  { id: 'batch25x32', label: 'BatchWriteItem 25, 32 in flight', items: 25, concurrency: 32 },
  { id: 'get-idle', label: 'GetItem, each after 5 ms idle', items: 1, concurrency: 1, idleMs: 5, base: 'get' },
  { id: 'put-idle', label: 'PutItem, each after 5 ms idle', items: 1, concurrency: 1, idleMs: 5, base: 'put' },
  { id: 'batch25-idle', label: 'BatchWriteItem 25, each after 5 ms idle', items: 25, concurrency: 1, idleMs: 5, base: 'batch25' },
];

const TEXT = 'The quick brown fox jumps over the lazy dog; a chat message of a typical length, about 120 characters long, give or take.';
const runId = Date.now().toString(36);
let nextSeq = 1;
const now = Date.now();

interface MessageItem {
  chat_id: string;
  seq: number;
  sender_id: string;
  client_msg_id: string;
  kind: string;
  text: string;
  created_at: number;
}

/** A message never written before: every write is a new item, as in the send path. */
function newMessage(): MessageItem {
  const seq = nextSeq++;
  return { chat_id: `w-${runId}`, seq, sender_id: 'u1', client_msg_id: `m-${seq}`, kind: 'text', text: TEXT, created_at: now };
}

function messageToAv(m: MessageItem): Record<string, AttributeValue> {
  return {
    chat_id: { S: m.chat_id },
    seq: { N: String(m.seq) },
    sender_id: { S: m.sender_id },
    client_msg_id: { S: m.client_msg_id },
    kind: { S: m.kind },
    text: { S: m.text },
    created_at: { N: String(m.created_at) },
  };
}

function avToMessage(av: Record<string, AttributeValue>): MessageItem {
  return {
    chat_id: av.chat_id!.S!,
    seq: Number(av.seq!.N),
    sender_id: av.sender_id!.S!,
    client_msg_id: av.client_msg_id!.S!,
    kind: av.kind!.S!,
    text: av.text!.S!,
    created_at: Number(av.created_at!.N),
  };
}

const QUERY_CHAT = `q-${runId}`;
const QUERY_LIMIT = 20;
const CHAT = (i: number) => `c-${runId}-${i % 10}`;
const USER = (i: number) => `u-${runId}-${i % 10}`;
const PUT_CONDITION = 'attribute_not_exists(seq)';
const ALLOCATE =
  'SET last_seq = last_seq + :one, read_seq.#s = last_seq + :one, last_preview = :preview, last_sender = :s, last_at = :now, updated_at = :now';
const MEMBER = 'attribute_exists(member_names.#s)';

interface Sender {
  send(command: unknown): Promise<any>;
}

type Op = (i: number) => Promise<unknown>;

function docOps(client: Sender, t: TableNames): Record<string, Op> {
  const tx = (n: number) => async () =>
    client.send(
      new TransactWriteCommand({
        TransactItems: Array.from({ length: n }, () => ({
          Put: { TableName: t.messages, Item: newMessage(), ConditionExpression: PUT_CONDITION },
        })),
      }),
    );
  const batch = async () => {
    const res = await client.send(
      new BatchWriteCommand({
        RequestItems: { [t.messages]: Array.from({ length: 25 }, () => ({ PutRequest: { Item: newMessage() } })) },
      }),
    );
    if (Object.keys(res.UnprocessedItems ?? {}).length) throw new Error('unprocessed items');
  };
  const put = async () => client.send(new PutCommand({ TableName: t.messages, Item: newMessage(), ConditionExpression: PUT_CONDITION }));
  const get = async (i: number) => {
    const res = await client.send(new GetCommand({ TableName: t.users, Key: { user_id: USER(i) } }));
    return res.Item?.username as string;
  };
  return {
    get,
    get32: get,
    put,
    put32: put,
    update: async (i) => {
      const res = await client.send(
        new UpdateCommand({
          TableName: t.chats,
          Key: { chat_id: CHAT(i) },
          UpdateExpression: ALLOCATE,
          ConditionExpression: MEMBER,
          ExpressionAttributeNames: { '#s': 'u1' },
          ExpressionAttributeValues: { ':one': 1, ':preview': 'hello', ':s': 'u1', ':now': now },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(res.Attributes?.last_seq);
    },
    query: async () => {
      const res = await client.send(
        new DocQueryCommand({
          TableName: t.messages,
          KeyConditionExpression: 'chat_id = :c',
          ExpressionAttributeValues: { ':c': QUERY_CHAT },
          ScanIndexForward: false,
          Limit: QUERY_LIMIT,
          ConsistentRead: true,
        }),
      );
      if (res.Items?.length !== QUERY_LIMIT) throw new Error('query: wrong count');
      return res.Items;
    },
    tx2: tx(2),
    tx25: tx(25),
    tx50: tx(50),
    tx100: tx(100),
    batch25: batch,
    batch25x32: batch,
  };
}

/** The plain client; `util` picks util-dynamodb's marshall()/unmarshall() over hand-written AttributeValues. */
function plainOps(client: Sender, t: TableNames, util: boolean): Record<string, Op> {
  const toAv = util ? (m: MessageItem) => marshall(m) : messageToAv;
  const fromAv = util ? (av: Record<string, AttributeValue>) => unmarshall(av) as MessageItem : avToMessage;
  const tx = (n: number) => async () =>
    client.send(
      new TransactWriteItemsCommand({
        TransactItems: Array.from({ length: n }, () => ({
          Put: { TableName: t.messages, Item: toAv(newMessage()), ConditionExpression: PUT_CONDITION },
        })),
      }),
    );
  const batch = async () => {
    const res = await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [t.messages]: Array.from({ length: 25 }, () => ({ PutRequest: { Item: toAv(newMessage()) } })) },
      }),
    );
    if (Object.keys(res.UnprocessedItems ?? {}).length) throw new Error('unprocessed items');
  };
  const put = async () =>
    client.send(new PutItemCommand({ TableName: t.messages, Item: toAv(newMessage()), ConditionExpression: PUT_CONDITION }));
  const get = async (i: number) => {
    const res = await client.send(
      new GetItemCommand({ TableName: t.users, Key: util ? marshall({ user_id: USER(i) }) : { user_id: { S: USER(i) } } }),
    );
    if (!res.Item) return undefined;
    return util ? (unmarshall(res.Item).username as string) : res.Item.username?.S;
  };
  return {
    get,
    get32: get,
    put,
    put32: put,
    update: async (i) => {
      const values = { ':one': 1, ':preview': 'hello', ':s': 'u1', ':now': now };
      const res = await client.send(
        new UpdateItemCommand({
          TableName: t.chats,
          Key: util ? marshall({ chat_id: CHAT(i) }) : { chat_id: { S: CHAT(i) } },
          UpdateExpression: ALLOCATE,
          ConditionExpression: MEMBER,
          ExpressionAttributeNames: { '#s': 'u1' },
          ExpressionAttributeValues: util
            ? marshall(values)
            : { ':one': { N: '1' }, ':preview': { S: 'hello' }, ':s': { S: 'u1' }, ':now': { N: String(now) } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return util ? Number(unmarshall(res.Attributes).last_seq) : Number(res.Attributes?.last_seq?.N);
    },
    query: async () => {
      const res = await client.send(
        new QueryCommand({
          TableName: t.messages,
          KeyConditionExpression: 'chat_id = :c',
          ExpressionAttributeValues: util ? marshall({ ':c': QUERY_CHAT }) : { ':c': { S: QUERY_CHAT } },
          ScanIndexForward: false,
          Limit: QUERY_LIMIT,
          ConsistentRead: true,
        }),
      );
      if (res.Items?.length !== QUERY_LIMIT) throw new Error('query: wrong count');
      return res.Items.map(fromAv);
    },
    tx2: tx(2),
    tx25: tx(25),
    tx50: tx(50),
    tx100: tx(100),
    batch25: batch,
    batch25x32: batch,
  };
}

/** No SDK at all: a keep-alive agent, JSON.stringify and an unsigned request (DynamoDB Local does not check). */
function bareOps(endpoint: string, t: TableNames, agent: http.Agent): Record<string, Op> {
  const url = new URL(endpoint);
  const call = (target: string, body: string) =>
    new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'x-amz-target': `DynamoDB_20120810.${target}`,
            authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const get = async (i: number) => {
    const res = JSON.parse(await call('GetItem', JSON.stringify({ TableName: t.users, Key: { user_id: { S: USER(i) } } })));
    return res.Item?.username?.S;
  };
  const put = async () =>
    call('PutItem', JSON.stringify({ TableName: t.messages, Item: messageToAv(newMessage()), ConditionExpression: PUT_CONDITION })).then(
      JSON.parse,
    );
  const batch = async () =>
    call(
      'BatchWriteItem',
      JSON.stringify({
        RequestItems: { [t.messages]: Array.from({ length: 25 }, () => ({ PutRequest: { Item: messageToAv(newMessage()) } })) },
      }),
    ).then(JSON.parse);
  return { get, get32: get, put, put32: put, batch25: batch, batch25x32: batch };
}

// ---------------------------------------------------------------------------
// Client configurations. `make` gets the settings huddle passes today (src/store/dynamo-client.ts:
// region, endpoint, placeholder credentials, maxAttempts 4, connection and request timeouts),
// or the same with a canned-response handler in place of HTTP for the no-network phase.

interface ConfigSpec {
  id: string;
  label: string;
  style: Style;
  /** Kinds it runs (default: all). The one-setting variants only run a few. */
  kinds?: string[];
  /** Changes the HTTP handler, so has no no-network variant. */
  http?: boolean;
  make(base: DynamoDBClientConfig, endpoint: string, canned: boolean): Made;
}

interface Made {
  client: Sender;
  destroy(): void;
  agent?: http.Agent;
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** What src/store/dynamo-client.ts passes today. */
const projectConfig = (endpoint: string): DynamoDBClientConfig => ({
  region: 'us-east-1',
  endpoint,
  credentials: CREDENTIALS,
  maxAttempts: 4,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
});
const docFrom = (raw: DynamoDBClient): Made => ({
  client: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false } }),
  destroy: () => raw.destroy(),
});
const plain = (raw: DynamoDBClient): Made => ({ client: raw, destroy: () => raw.destroy() });
const withRemoved = (raw: DynamoDBClient, ...names: string[]) => {
  for (const name of names) if (!raw.middlewareStack.remove(name)) throw new Error(`no middleware ${name}`);
  return raw;
};
/**
 * The middleware that does nothing huddle needs: loggerMiddleware runs the input and the
 * output through the schemas' sensitive-data filter for a logger that drops the record;
 * recursionDetectionMiddleware only adds a trace header inside AWS Lambda.
 */
const IDLE_MIDDLEWARE = ['loggerMiddleware', 'recursionDetectionMiddleware'];
const ONE_SETTING = ['get', 'put', 'tx25'];
/**
 * Not an SDK setting: a V8 trick. The resolved client config (about 50 properties added one
 * by one) sits in V8's dictionary mode, and the SDK copies it with `{ ...config }` four
 * times per request (endpoint, serializer, deserializer, signer), about 14 µs each here.
 * Making the object a prototype turns it back into fast properties; nothing else changes.
 */
function fastProperties<T extends object>(o: T): T {
  function F() {}
  F.prototype = o;
  // @ts-expect-error: the instance only exists to make V8 optimise F.prototype
  new F();
  return o;
}
const fixedEndpoint = (endpoint: string) => {
  const url = new URL(endpoint);
  return () => ({ url });
};

/** The configuration docs/sdk-cost.md recommends, and the columns of the before/after view. */
const RECOMMENDED = 'plain-trimmed';
const MATRIX_CONFIGS = ['doc', 'doc-trimmed', 'plain', 'plainUtil-trimmed', 'plain-trimmed', 'plain-trimmed-fast', 'bare'];

const CONFIGS: ConfigSpec[] = [
  {
    id: 'doc',
    label: 'document client as huddle created it before (maxAttempts 4, timeouts)',
    style: 'doc',
    make: (base) => docFrom(new DynamoDBClient(base)),
  },
  {
    id: 'plain',
    label: 'plain client, same settings, AttributeValues by hand',
    style: 'plain',
    make: (base) => plain(new DynamoDBClient(base)),
  },
  {
    id: 'plainUtil',
    label: 'plain client, same settings, util-dynamodb marshall()/unmarshall()',
    style: 'plainUtil',
    make: (base) => plain(new DynamoDBClient(base)),
  },
  {
    id: 'doc-defaultHandler',
    label: 'doc, default requestHandler (no connection/request timeouts)',
    style: 'doc',
    http: true,
    kinds: ONE_SETTING,
    make: (base) => docFrom(new DynamoDBClient({ ...base, requestHandler: undefined })),
  },
  {
    id: 'doc-agent',
    label: 'doc, requestHandler with its own keep-alive http.Agent (maxSockets 64)',
    style: 'doc',
    http: true,
    kinds: [...ONE_SETTING, 'get32', 'put32'],
    make: (base) =>
      docFrom(
        new DynamoDBClient({
          ...base,
          requestHandler: {
            httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
            connectionTimeout: 3_000,
            requestTimeout: 10_000,
          },
        }),
      ),
  },
  {
    id: 'doc-noKeepAlive',
    label: 'doc, http.Agent without keep-alive (a new connection per request)',
    style: 'doc',
    http: true,
    kinds: ['get', 'put'],
    make: (base) => docFrom(new DynamoDBClient({ ...base, requestHandler: { httpAgent: new http.Agent({ keepAlive: false }) } })),
  },
  {
    id: 'doc-attempts1',
    label: 'doc, maxAttempts 1',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => docFrom(new DynamoDBClient({ ...base, maxAttempts: 1 })),
  },
  {
    id: 'doc-chain',
    label: 'doc, default credential provider chain (here: environment variables)',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => {
      process.env.AWS_ACCESS_KEY_ID = 'local';
      process.env.AWS_SECRET_ACCESS_KEY = 'local';
      const { credentials: _omit, ...rest } = base;
      return docFrom(new DynamoDBClient(rest));
    },
  },
  {
    id: 'doc-noDiscovery',
    label: 'doc, endpointDiscoveryEnabled false',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => docFrom(new DynamoDBClient({ ...base, endpointDiscoveryEnabled: false })),
  },
  {
    id: 'doc-endpointProvider',
    label: 'doc, endpointProvider returning the fixed URL (no rules, no cache)',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base, endpoint) => docFrom(new DynamoDBClient({ ...base, endpointProvider: fixedEndpoint(endpoint) })),
  },
  {
    id: 'doc-noLogger',
    label: 'doc, loggerMiddleware removed',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => docFrom(withRemoved(new DynamoDBClient(base), 'loggerMiddleware')),
  },
  {
    id: 'doc-noRecursion',
    label: 'doc, recursionDetectionMiddleware removed',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => docFrom(withRemoved(new DynamoDBClient(base), 'recursionDetectionMiddleware')),
  },
  {
    id: 'doc-noUA',
    label: 'doc, user-agent middleware removed',
    style: 'doc',
    kinds: ONE_SETTING,
    make: (base) => docFrom(withRemoved(new DynamoDBClient(base), 'getUserAgentMiddleware')),
  },
  {
    id: 'plain-cache',
    label: 'plain (by hand), cacheMiddleware: true',
    style: 'plain',
    kinds: ONE_SETTING,
    make: (base) => plain(new DynamoDBClient({ ...base, cacheMiddleware: true })),
  },
  {
    id: 'doc-trimmed',
    label: 'doc, logger + recursion-detection middleware removed',
    style: 'doc',
    make: (base) => docFrom(withRemoved(new DynamoDBClient(base), ...IDLE_MIDDLEWARE)),
  },
  {
    id: 'plain-trimmed',
    label: 'plain (by hand), cacheMiddleware, logger + recursion-detection removed',
    style: 'plain',
    make: (base) => plain(withRemoved(new DynamoDBClient({ ...base, cacheMiddleware: true }), ...IDLE_MIDDLEWARE)),
  },
  {
    id: 'plainUtil-trimmed',
    label: 'plain (marshall()), cacheMiddleware, logger + recursion-detection removed',
    style: 'plainUtil',
    make: (base) => plain(withRemoved(new DynamoDBClient({ ...base, cacheMiddleware: true }), ...IDLE_MIDDLEWARE)),
  },
  {
    id: 'plain-trimmed-noUA',
    label: 'plain-trimmed, and the user-agent middleware removed',
    style: 'plain',
    kinds: ONE_SETTING,
    make: (base) =>
      plain(withRemoved(new DynamoDBClient({ ...base, cacheMiddleware: true }), ...IDLE_MIDDLEWARE, 'getUserAgentMiddleware')),
  },
  {
    id: 'doc-trimmed-fast',
    label: 'doc-trimmed, and its config object in V8 fast mode (not an SDK setting)',
    style: 'doc',
    make: (base) => {
      const made = docFrom(withRemoved(new DynamoDBClient(base), ...IDLE_MIDDLEWARE));
      fastProperties((made.client as DynamoDBDocumentClient).config);
      return made;
    },
  },
  {
    id: 'plain-trimmed-fast',
    label: 'plain-trimmed, and its config object in V8 fast mode (not an SDK setting)',
    style: 'plain',
    make: (base) => {
      const raw = withRemoved(new DynamoDBClient({ ...base, cacheMiddleware: true }), ...IDLE_MIDDLEWARE);
      fastProperties(raw.config);
      return plain(raw);
    },
  },
  {
    id: 'bare',
    label: 'bare HTTP: no SDK, keep-alive http.Agent, JSON.stringify, unsigned',
    style: 'bare',
    http: true,
    kinds: ['get', 'put', 'batch25', 'get32', 'put32', 'batch25x32', 'get-idle', 'put-idle', 'batch25-idle'],
    make: () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      return { client: { send: () => Promise.reject(new Error('bare HTTP has no client')) }, destroy: () => agent.destroy(), agent };
    },
  },
];

// ---------------------------------------------------------------------------
// Canned responses: the SDK's own CPU without sockets, HTTP or DynamoDB Local.

function cannedHandler() {
  const message = (seq: number) => messageToAv({ ...newMessageShape, seq, client_msg_id: `m-${seq}` });
  const bodies: Record<string, Buffer> = {
    GetItem: Buffer.from(
      JSON.stringify({
        Item: {
          user_id: { S: USER(1) },
          username: { S: 'user1' },
          email: { S: 'user1@example.com' },
          is_premium: { BOOL: false },
          created_at: { N: String(now) },
        },
      }),
    ),
    PutItem: Buffer.from('{}'),
    UpdateItem: Buffer.from(
      JSON.stringify({
        Attributes: {
          last_seq: { N: '42' },
          read_seq: { M: { u1: { N: '42' } } },
          last_preview: { S: 'hello' },
          last_sender: { S: 'u1' },
          last_at: { N: String(now) },
          updated_at: { N: String(now) },
        },
      }),
    ),
    Query: Buffer.from(
      JSON.stringify({
        Items: Array.from({ length: QUERY_LIMIT }, (_, i) => message(60 - i)),
        Count: QUERY_LIMIT,
        ScannedCount: QUERY_LIMIT,
        LastEvaluatedKey: { chat_id: { S: QUERY_CHAT }, seq: { N: '41' } },
      }),
    ),
    TransactWriteItems: Buffer.from('{}'),
    BatchWriteItem: Buffer.from('{"UnprocessedItems":{}}'),
  };
  return {
    async handle(request: { headers: Record<string, string> }) {
      const target = request.headers['x-amz-target']!.split('.')[1]!;
      const body = bodies[target]!;
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(body.length), 'x-amzn-requestid': 'canned' },
          body: new Uint8Array(body),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}
const newMessageShape = { chat_id: QUERY_CHAT, seq: 0, sender_id: 'u1', client_msg_id: '', kind: 'text', text: TEXT, created_at: now };

// ---------------------------------------------------------------------------
// Measuring.

/** user + system CPU ticks (10 ms) of a process or thread from /proc, or NaN where there is none. */
function cpuTicks(statPath: string): number {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}
const TICK_US = 10_000; // USER_HZ is 100 on Linux
const MAIN_THREAD = `/proc/self/task/${process.pid}/stat`;

interface Sample {
  /** This process, all threads (process.cpuUsage), µs per request. */
  cpuUs: number;
  /** This process's main thread only (10 ms ticks): the rest is JIT compilation, GC helpers, libuv. */
  mainUs: number;
  /** DynamoDB Local's Java process, all threads (10 ms ticks). */
  javaUs: number;
  wallUs: number;
}

async function runRequests(op: Op, n: number, concurrency: number): Promise<void> {
  if (concurrency === 1) {
    for (let i = 0; i < n; i++) await op(i);
    return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await op(next++);
    }),
  );
}

/** Requests each after a pause; returns the CPU (µs) and wall time (ms) of the requests alone. */
async function runAfterIdle(op: Op, n: number, idleMs: number): Promise<{ cpuUs: number; wallMs: number }> {
  let cpuUs = 0;
  let wallMs = 0;
  for (let i = 0; i < n; i++) {
    await sleep(idleMs);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await op(i);
    wallMs += performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    cpuUs += cpu.user + cpu.system;
  }
  return { cpuUs, wallMs };
}

async function measure(op: Op, n: number, kind: KindSpec, javaStat: string | undefined): Promise<Sample> {
  const java0 = javaStat ? cpuTicks(javaStat) : NaN;
  const main0 = cpuTicks(MAIN_THREAD);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let idle: { cpuUs: number; wallMs: number } | undefined;
  if (kind.idleMs) idle = await runAfterIdle(op, n, kind.idleMs);
  else await runRequests(op, n, kind.concurrency);
  const wallUs = ((idle ? idle.wallMs : performance.now() - t0) * 1000) / n;
  const cpu = process.cpuUsage(cpu0);
  const main1 = cpuTicks(MAIN_THREAD);
  const java1 = javaStat ? cpuTicks(javaStat) : NaN;
  return {
    cpuUs: (idle ? idle.cpuUs : cpu.user + cpu.system) / n,
    // The tick counters cannot leave the pauses out: for idle kinds they include them.
    mainUs: ((main1 - main0) * TICK_US) / n,
    javaUs: ((java1 - java0) * TICK_US) / n,
    wallUs,
  };
}

/** For the 10 ms tick counters: short rounds only add up right as a mean. */
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A small seeded shuffle, so that runs are comparable. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = (seed * 2654435761) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function scaled(count: number, items: number, concurrency: number): number {
  const n = Math.round(count / Math.sqrt(items));
  return Math.max(concurrency > 1 ? concurrency * 4 : 8, n);
}

interface Cell {
  config: ConfigSpec;
  kind: KindSpec;
  op: Op;
  n: number;
  samples: Sample[];
}

function buildCells(endpoint: string, t: TableNames, canned: boolean, made: { destroy(): void }[]): Cell[] {
  const cells: Cell[] = [];
  for (const config of CONFIGS) {
    if (settings.configs && !settings.configs.includes(config.id)) continue;
    if (canned && (config.http || config.style === 'bare')) continue;
    const base = canned ? { ...projectConfig(endpoint), requestHandler: cannedHandler() } : projectConfig(endpoint);
    const m = config.make(base, endpoint, canned);
    made.push(m);
    const ops =
      config.style === 'doc'
        ? docOps(m.client, t)
        : config.style === 'bare'
          ? bareOps(endpoint, t, m.agent!)
          : plainOps(m.client, t, config.style === 'plainUtil');
    for (const kind of KINDS) {
      if (settings.kinds && !settings.kinds.includes(kind.id)) continue;
      if (config.kinds && !config.kinds.includes(kind.id)) continue;
      if (canned && kind.concurrency > 1) continue;
      const op = ops[kind.base ?? kind.id];
      if (!op) continue;
      const count = kind.idleMs ? Math.ceil(settings.requests / 4) : canned ? settings.requests * 5 : settings.requests;
      cells.push({ config, kind, op, n: scaled(count, kind.items, kind.concurrency), samples: [] });
    }
  }
  return cells;
}

async function runCells(cells: Cell[], javaStat: string | undefined, title: string, afterWarmup?: () => Promise<unknown>) {
  const warmStart = performance.now();
  // Each cell gets its share, and the process as a whole at least BENCH_WARMUP_TOTAL requests:
  // the JIT needs a few thousand before the SDK's code runs at its steady cost.
  let total = 0;
  do {
    for (const cell of cells) {
      const n = scaled(settings.warmup, cell.kind.items, cell.kind.concurrency);
      await runRequests(cell.op, cell.kind.idleMs ? Math.ceil(n / 10) : n, cell.kind.concurrency);
      total += n;
    }
  } while (total < settings.warmupTotal);
  process.stderr.write(`${title}: warm-up done in ${((performance.now() - warmStart) / 1000).toFixed(1)} s\n`);
  await afterWarmup?.();
  // The idle kinds run after the others: a pause leaves the next requests cold too, and would
  // spill into whichever cell followed it.
  const busy = cells.filter((c) => !c.kind.idleMs);
  const idle = cells.filter((c) => c.kind.idleMs);
  for (const [group, name] of [
    [busy, ''],
    [idle, ' (after idleness)'],
  ] as const) {
    if (!group.length) continue;
    for (let round = 0; round < settings.rounds; round++) {
      for (const cell of shuffled(group, round + 1)) {
        cell.samples.push(await measure(cell.op, cell.n, cell.kind, javaStat));
      }
      process.stderr.write(`${title}${name}: round ${round + 1}/${settings.rounds} done, load average ${loadAverage()}\n`);
    }
  }
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

function printTable(cells: Cell[], withJava: boolean) {
  const base = new Map<string, number>();
  for (const cell of cells) if (cell.config.id === 'doc') base.set(cell.kind.id, median(cell.samples.map((s) => s.cpuUs)));
  const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '?');
  log(
    withJava
      ? '| request | configuration | caller CPU µs/request: median [min–max] | vs doc | caller µs/item | main thread (mean) | DynamoDB Local CPU µs/request (mean) | DynamoDB Local µs/item | wall µs/request |'
      : '| request | configuration | SDK CPU µs/request: median [min–max] | vs doc | µs/item | main thread (mean) |',
  );
  log(withJava ? '|---|---|--:|--:|--:|--:|--:|--:|--:|' : '|---|---|--:|--:|--:|--:|');
  for (const kind of KINDS) {
    for (const cell of cells.filter((c) => c.kind === kind)) {
      const cpu = cell.samples.map((s) => s.cpuUs);
      const m = median(cpu);
      const b = base.get(kind.id);
      const java = mean(cell.samples.map((s) => s.javaUs));
      const cols = [
        kind.label,
        cell.config.id,
        `${f0(m)} [${f0(Math.min(...cpu))}–${f0(Math.max(...cpu))}]`,
        b ? (m / b).toFixed(2) : '',
        (m / kind.items).toFixed(1),
        kind.idleMs ? '' : f0(mean(cell.samples.map((s) => s.mainUs))),
      ];
      if (withJava) cols.push(f0(java), (java / kind.items).toFixed(0), f0(median(cell.samples.map((s) => s.wallUs))));
      log(`| ${cols.join(' | ')} |`);
    }
  }
}

/** The before/after view: request kinds down, the main configurations across, caller µs per request. */
function printMatrix(cells: Cell[]) {
  const ids = MATRIX_CONFIGS.filter((id) => cells.some((c) => c.config.id === id));
  log(`| request | ${ids.join(' | ')} |`);
  log(`|---|${ids.map(() => '--:').join('|')}|`);
  for (const kind of KINDS) {
    const row = ids.map((id) => {
      const cell = cells.find((c) => c.kind === kind && c.config.id === id);
      return cell ? median(cell.samples.map((s) => s.cpuUs)).toFixed(0) : '';
    });
    if (row.some(Boolean)) log(`| ${kind.label} | ${row.join(' | ')} |`);
  }
}

/**
 * For the batching design: per item written, the caller's CPU (huddle's client today and the
 * recommended one) and DynamoDB Local's CPU (pooled over every configuration: the server does
 * the same work whoever sends the request).
 */
function printBatching(cells: Cell[]) {
  const kinds = KINDS.filter((k) =>
    ['put', 'tx2', 'tx25', 'tx50', 'tx100', 'batch25', 'put32', 'batch25x32', 'put-idle', 'batch25-idle'].includes(k.id),
  );
  log(
    `| write | items/request | caller µs/item, doc | caller µs/item, ${RECOMMENDED} | DynamoDB Local µs/item (all configs) | wall µs/item, ${RECOMMENDED} |`,
  );
  log('|---|--:|--:|--:|--:|--:|');
  for (const kind of kinds) {
    const of = (id: string) => cells.find((c) => c.kind === kind && c.config.id === id);
    const perItem = (cell: Cell | undefined, f: (s: Sample) => number) =>
      cell ? (median(cell.samples.map(f)) / kind.items).toFixed(0) : '';
    const java = cells.filter((c) => c.kind === kind && c.config.style !== 'bare').flatMap((c) => c.samples.map((s) => s.javaUs));
    if (!java.length) continue;
    log(
      `| ${kind.label} | ${kind.items} | ${perItem(of('doc'), (s) => s.cpuUs)} | ${perItem(of(RECOMMENDED), (s) => s.cpuUs)} | ${(
        mean(java) / kind.items
      ).toFixed(0)} | ${perItem(of(RECOMMENDED), (s) => s.wallUs)} |`,
    );
  }
}

// ---------------------------------------------------------------------------

async function seed(client: DynamoDBDocumentClient, t: TableNames) {
  for (let i = 0; i < 10; i++) {
    await client.send(
      new PutCommand({
        TableName: t.users,
        Item: { user_id: USER(i), username: `user${i}`, email: `user${i}@example.com`, is_premium: false, created_at: now },
      }),
    );
    await client.send(
      new PutCommand({
        TableName: t.chats,
        Item: { chat_id: CHAT(i), last_seq: 0, read_seq: { u1: 0 }, member_names: { u1: 'alice' }, title: 'bench' },
      }),
    );
  }
  for (let seq = 1; seq <= 60; seq++) {
    await client.send(new PutCommand({ TableName: t.messages, Item: { ...newMessage(), chat_id: QUERY_CHAT, seq } }));
  }
}

/** CPU per request of the first requests of a fresh client in a fresh process, by bucket. */
async function firstRequestsCurve(op: Op, total: number): Promise<string[]> {
  const bounds = [1, 10, 100, 300, 600, 1000, 2000, 3000, 5000, 10000, 20000].filter((b) => b < total);
  bounds.push(total);
  const rows: string[] = [];
  let done = 0;
  for (const end of bounds) {
    const n = end - done;
    const main0 = cpuTicks(MAIN_THREAD);
    const cpu0 = process.cpuUsage();
    for (let i = done; i < end; i++) await op(i);
    const cpu = process.cpuUsage(cpu0);
    const main = ((cpuTicks(MAIN_THREAD) - main0) * TICK_US) / n;
    rows.push(`| ${done + 1}–${end} | ${Math.round((cpu.user + cpu.system) / n)} | ${n >= 100 ? Math.round(main) : ''} |`);
    done = end;
  }
  return rows;
}

async function main() {
  const dynamo = await startDynamoDbLocal({ port: await freePort() });
  const javaStat = dynamo.pid ? `/proc/${dynamo.pid}/stat` : undefined;
  const t = tableNames(`cost${runId}-`);
  const admin = createToolClients({ region: 'us-east-1', endpoint: dynamo.endpoint });
  const made: { destroy(): void }[] = [admin];
  try {
    await ensureTables(admin.raw, t);

    // The first requests of the process, before anything else ran hot: a document client as huddle had.
    let curve: string[] = [];
    if (settings.curve > 0) {
      const first = createToolClients({ region: 'us-east-1', endpoint: dynamo.endpoint });
      made.push(first);
      curve = await firstRequestsCurve(docOps(first.doc, t).put!, settings.curve);
    }
    await seed(admin.doc, t);

    const cells = settings.network ? buildCells(dynamo.endpoint, t, false, made) : [];
    const canned = settings.canned ? buildCells(dynamo.endpoint, t, true, made) : [];
    log(`# DynamoDB request cost (npm run bench:dynamo)`);
    log(
      `node ${process.version}, ${settings.rounds} rounds, warm-up ${settings.warmup} requests per cell (scaled), ${cells.length} + ${canned.length} cells, load average at start ${loadAverage()}`,
    );

    // BENCH_PROFILE: a profile of the measured rounds of the first phase that runs (after its warm-up).
    let session: Session | undefined;
    if (settings.profile) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
    }
    const startProfile = session ? () => session!.post('Profiler.start') : undefined;
    const stopProfile = async () => {
      if (!session || !settings.profile) return;
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(settings.profile, { recursive: true });
      const file = join(settings.profile, `dynamo-request-cost-${runId}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      session = undefined;
      process.stderr.write(`profile written: ${file}\n`);
    };
    if (cells.length) {
      await runCells(cells, javaStat, 'DynamoDB Local', startProfile);
      await stopProfile();
    }
    if (canned.length) {
      await runCells(canned, undefined, 'canned responses', session ? startProfile : undefined);
      await stopProfile();
    }

    if (cells.length) {
      log('');
      log('## Against DynamoDB Local: caller CPU µs per request, median of the rounds');
      log('');
      printMatrix(cells);
      log('');
      log('## Writes per item (group commit)');
      log('');
      printBatching(cells);
    }
    if (canned.length) {
      log('');
      log('## SDK only (canned responses instead of HTTP: no sockets, no DynamoDB Local): CPU µs per request');
      log('');
      printMatrix(canned);
    }
    if (cells.length) {
      log('');
      log('## Against DynamoDB Local, every cell');
      log('');
      printTable(cells, true);
    }
    if (canned.length) {
      log('');
      log('## SDK only, every cell');
      log('');
      printTable(canned, false);
    }
    log('');
    log('Configurations:');
    for (const c of CONFIGS.filter((c) => [...cells, ...canned].some((cell) => cell.config === c))) log(`- ${c.id}: ${c.label}`);
    if (curve.length) {
      log('');
      log('First requests of a fresh process (document client as huddle creates it, PutItem), caller CPU µs per request:');
      log('');
      log('| requests | all threads | main thread |');
      log('|---|--:|--:|');
      for (const row of curve) log(row);
    }
    log('');
    log(`load average at end ${loadAverage()}`);
  } finally {
    for (const m of made) m.destroy();
    await dynamo.close();
  }
}

await main();
