/**
 * What integration tests run against: DynamoDB Local and Redis started once per
 * `npm test` run by scripts/run-tests.mjs (DYNAMODB_ENDPOINT, REDIS_URL), plus an
 * S3 emulator and the local sign-in provider started here, in the test's process.
 * Every stack gets its own table prefix and Redis key prefix, so test files running
 * in parallel never see each other's data.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { freezeConfig, parseConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/app.js';
import { compose, type Services } from '../../src/compose.js';
import { createToolClients } from '../../src/adapters/dynamodb/client.js';
import { documentsOver, type Documents } from '../../src/adapters/dynamodb/document.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames, type TableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import type { UsersRepository } from '../../src/domain/users/ports.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startS3Emulator } from '../../src/local/s3-emulator.js';
import { LOCAL_CLIENT_ID, startIdentityProvider } from '../../src/local/identity-provider.js';
import { freePort } from './free-port.js';

export { freePort };

export interface TestStack {
  env: Record<string, string>;
  dynamodbEndpoint: string;
  redisUrl: string;
  s3Endpoint: string;
  issuer: string;
  tablePrefix: string;
  redisKeyPrefix: string;
  /** The stack's tables, for tests that look at (or prepare) rows directly. */
  store: { doc: DynamoDBDocumentClient; db: Documents; tables: TableNames; users: UsersRepository };
  close(): Promise<void>;
}

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export function uniqueId(label = 't'): string {
  return `${label}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function requireEnv(name: 'DYNAMODB_ENDPOINT' | 'REDIS_URL'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with "npm test", which starts DynamoDB Local and Redis`);
  return value;
}

/** Starts an S3 emulator and an identity provider, and creates tables under a fresh prefix. */
export async function startTestStack(t: Teardown): Promise<TestStack> {
  const dynamodbEndpoint = requireEnv('DYNAMODB_ENDPOINT');
  const redisUrl = requireEnv('REDIS_URL');
  const tablePrefix = `${uniqueId('it')}-`;
  const redisKeyPrefix = `${tablePrefix}`;
  const s3Dir = await mkdtemp(path.join(tmpdir(), 'huddle-s3-'));
  const bucket = 'huddle-test-files';
  const s3 = await startS3Emulator({ port: 0, directory: s3Dir, bucket });
  const idp = await startIdentityProvider({ port: 0 });
  const clients = createToolClients({ region: 'us-east-1', endpoint: dynamodbEndpoint });
  const { raw, doc } = clients;
  const db = documentsOver(raw);
  const tables = tableNames(tablePrefix);
  try {
    await ensureTables(raw, tables);
  } catch (err) {
    clients.destroy();
    throw err;
  }
  const stack: TestStack = {
    dynamodbEndpoint,
    redisUrl,
    s3Endpoint: s3.endpoint,
    issuer: idp.issuer,
    tablePrefix,
    redisKeyPrefix,
    store: { doc, db, tables, users: createUsersRepository(db, tables.users) },
    env: {
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      HOST: '127.0.0.1',
      TABLE_PREFIX: tablePrefix,
      DYNAMODB_ENDPOINT: dynamodbEndpoint,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      OIDC_ISSUER: idp.issuer,
      COGNITO_CLIENT_ID: LOCAL_CLIENT_ID,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisKeyPrefix,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
    },
    async close() {
      clients.destroy();
      await idp.close();
      await s3.close();
      await rm(s3Dir, { recursive: true, force: true });
    },
  };
  t.teardown(() => stack.close());
  return stack;
}

export interface TestInstance {
  app: FastifyInstance;
  config: Config;
  /** What the app serves from, for tests that look behind the API (tiers, quotas, sessions). */
  services: Services;
  baseUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Builds an app against the stack and listens on a real port. `env` overrides
 * variables (e.g. `{ REDIS_URL: '' }` for the in-process bus); `pageDir` serves a
 * page the test built (test/helpers/browser.ts); `port` starts it again where a
 * closed instance listened (same address, so pages and cookies find it). Closed on teardown.
 */
export async function startInstance(
  t: Teardown,
  stack: TestStack,
  env: Record<string, string> = {},
  options: { pageDir?: string; port?: number } = {},
): Promise<TestInstance> {
  const port = options.port ?? (await freePort());
  const draft = parseConfig({ ...stack.env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...env });
  const config = freezeConfig(draft);
  const services = await compose(config);
  const app = await buildApp(config, services, options);
  await app.listen({ port, host: '127.0.0.1' });
  let closed = false;
  const instance: TestInstance = {
    app,
    config,
    services,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
  t.teardown(() => instance.close());
  return instance;
}
