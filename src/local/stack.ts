/**
 * The embedded local stack: what `npm start` runs when no AWS settings are given.
 * The first instance starts DynamoDB Local, the S3 emulator and the local sign-in
 * provider and records their addresses in `<dataDir>/stack.json`; later instances
 * (another PORT, same REDIS_URL) find that file, check that everything answers, and
 * join the same data and identity provider instead of starting their own.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ConfigDraft } from '../config.js';
import { createDynamoClient } from '../adapters/dynamodb/client.js';
import { ensureTables } from '../adapters/dynamodb/tables-admin.js';
import { tableNames } from '../adapters/dynamodb/table.js';
import { dynamoAnswers, startDynamoDbLocal } from './dynamodb-local.js';
import { startS3Emulator } from './s3-emulator.js';
import { LOCAL_CLIENT_ID, startIdentityProvider } from './identity-provider.js';
import { requireFreePorts, type WantedPort } from './free-ports.js';

export interface StackAddresses {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  issuer: string;
  clientId: string;
  pid: number;
}

export interface LocalStack {
  addresses: StackAddresses;
  /** True when this process started the services (and so must stop them). */
  owned: boolean;
  close(): Promise<void>;
}

const stackFile = (dataDir: string) => path.join(dataDir, 'stack.json');

async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

async function readRunningStack(dataDir: string): Promise<StackAddresses | undefined> {
  let addresses: StackAddresses;
  try {
    addresses = JSON.parse(await readFile(stackFile(dataDir), 'utf8')) as StackAddresses;
  } catch {
    return undefined;
  }
  const alive = await Promise.all([
    dynamoAnswers(addresses.dynamodbEndpoint),
    answers(addresses.s3Endpoint),
    answers(`${addresses.issuer}/.well-known/openid-configuration`),
  ]);
  return alive.every(Boolean) ? addresses : undefined;
}

/** Starts (or joins) the local stack; never called in AWS mode. */
export async function startOrJoinLocalStack(draft: ConfigDraft): Promise<LocalStack> {
  const given = { dynamodb: draft.aws.dynamodbEndpoint, s3: draft.aws.s3Endpoint, issuer: draft.identity.localIssuer };
  if (given.dynamodb && given.s3 && given.issuer) {
    // Every service was named explicitly (tests, scripted load runs): start and record nothing.
    const addresses = {
      dynamodbEndpoint: given.dynamodb,
      s3Endpoint: given.s3,
      issuer: given.issuer,
      clientId: LOCAL_CLIENT_ID,
      pid: process.pid,
    };
    return { addresses, owned: false, close: async () => {} };
  }
  const dataDir = path.resolve(draft.local.dataDir);
  await mkdir(dataDir, { recursive: true });
  const running = await readRunningStack(dataDir);
  if (running) return { addresses: running, owned: false, close: async () => {} };

  const wanted: WantedPort[] = [];
  if (!draft.aws.dynamodbEndpoint) wanted.push({ port: draft.local.dynamodbPort, variable: 'LOCAL_DYNAMODB_PORT', what: 'DynamoDB Local' });
  if (!draft.aws.s3Endpoint) wanted.push({ port: draft.local.s3Port, variable: 'LOCAL_S3_PORT', what: 'the S3 emulator' });
  if (!draft.identity.localIssuer)
    wanted.push({ port: draft.local.idpPort, variable: 'LOCAL_IDP_PORT', what: 'the local sign-in provider' });
  await requireFreePorts(wanted);

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    await mkdir(path.join(dataDir, 'dynamodb'), { recursive: true });
    const dynamo = draft.aws.dynamodbEndpoint
      ? { endpoint: draft.aws.dynamodbEndpoint, close: async () => {} }
      : await startDynamoDbLocal({ port: draft.local.dynamodbPort, dataDir: path.join(dataDir, 'dynamodb') });
    closers.push(() => dynamo.close());
    await mkdir(path.join(dataDir, 's3'), { recursive: true });
    const s3 = draft.aws.s3Endpoint
      ? { endpoint: draft.aws.s3Endpoint, close: async () => {} }
      : await startS3Emulator({ port: draft.local.s3Port, directory: path.join(dataDir, 's3'), bucket: draft.files.bucket });
    closers.push(() => s3.close());
    const idp = draft.identity.localIssuer
      ? { issuer: draft.identity.localIssuer, close: async () => {} }
      : await startIdentityProvider({ port: draft.local.idpPort });
    closers.push(() => idp.close());

    const addresses: StackAddresses = {
      dynamodbEndpoint: dynamo.endpoint,
      s3Endpoint: s3.endpoint,
      issuer: idp.issuer,
      clientId: LOCAL_CLIENT_ID,
      pid: process.pid,
    };
    const raw = createDynamoClient({ region: draft.aws.region, endpoint: addresses.dynamodbEndpoint });
    try {
      await ensureTables(raw, tableNames(draft.tables.prefix));
    } finally {
      raw.destroy();
    }
    await writeFile(stackFile(dataDir), JSON.stringify(addresses, null, 2));
    closers.push(() => rm(stackFile(dataDir), { force: true }));
    return { addresses, owned: true, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The login cookie's signing secret, shared by every local instance through the data folder. */
export async function localSessionSecret(dataDir: string): Promise<string> {
  const file = path.join(path.resolve(dataDir), 'session-secret');
  try {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret.length >= 32) return secret;
  } catch {
    // first start: fall through and create one
  }
  const secret = randomBytes(32).toString('base64url');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, secret, { mode: 0o600 });
  return secret;
}

/** Fills a local-mode draft with the stack's addresses. */
export async function applyLocalStack(draft: ConfigDraft, stack: LocalStack): Promise<void> {
  draft.aws.dynamodbEndpoint = stack.addresses.dynamodbEndpoint;
  draft.aws.s3Endpoint = stack.addresses.s3Endpoint;
  draft.identity.localIssuer = stack.addresses.issuer;
  draft.identity.clientId = stack.addresses.clientId;
  draft.session.secret ??= await localSessionSecret(draft.local.dataDir);
}
