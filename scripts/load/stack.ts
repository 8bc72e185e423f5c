/**
 * The services every instance of a load run shares, started once in this process:
 * DynamoDB Local in memory (or the one at DYNAMODB_ENDPOINT), Redis (the one at
 * REDIS_URL, else a throwaway redis-server, or with `redisCluster` a throwaway
 * three-master Redis Cluster), the S3 emulator in a temporary folder,
 * and the local sign-in provider. Fresh table and key prefixes, so runs never see
 * each other's data. Ports are free ones, never the fixed ports of `npm run stack`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/local/free-ports.js';
import { redisServerUnavailable, startRedisCluster, startRedisServer } from '../../src/local/redis-server.js';
import { startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { startS3Emulator } from '../../src/local/s3-emulator.js';
import { LOCAL_CLIENT_ID, startIdentityProvider } from '../../src/local/identity-provider.js';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { pidListeningOn } from './proc-stats.js';

export interface SharedService {
  url: string;
  /** Started here (and stopped by close), rather than found in the environment. */
  started: boolean;
  /** Its process on this machine when known: its CPU and memory can be read. */
  pid: number | undefined;
}

export interface LoadStack {
  /** What an instance needs to join: tables, key prefix, endpoints, sign-in, secret. */
  env: Record<string, string>;
  /** For a cluster: the seed node's URL, and no single pid. */
  redis: SharedService;
  /** Redis is a Redis Cluster: the instances run with REDIS_CLUSTER=true. */
  redisCluster: boolean;
  dynamodb: SharedService;
  s3: SharedService;
  signIn: SharedService;
  close(): Promise<void>;
}

export interface LoadStackOptions {
  /** An existing Redis (REDIS_URL); without it a throwaway redis-server is started. */
  redisUrl?: string | undefined;
  /** Redis is a Redis Cluster: `redisUrl` is one of its nodes, or else a throwaway three-master cluster is started. */
  redisCluster?: boolean | undefined;
  /** An existing DynamoDB (DYNAMODB_ENDPOINT); without it DynamoDB Local runs in memory. */
  dynamodbEndpoint?: string | undefined;
}

const isLocal = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
const localPid = (url: string) => (isLocal(new URL(url)) ? pidListeningOn(Number(new URL(url).port)) : Promise.resolve(undefined));

export async function startLoadStack(options: LoadStackOptions = {}): Promise<LoadStack> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {});
  };
  try {
    let dynamodb: SharedService;
    if (options.dynamodbEndpoint) {
      dynamodb = { url: options.dynamodbEndpoint, started: false, pid: await localPid(options.dynamodbEndpoint) };
    } else {
      const local = await startDynamoDbLocal({ port: await freePort() });
      closers.push(() => local.close());
      dynamodb = { url: local.endpoint, started: true, pid: local.pid };
    }

    let redis: SharedService;
    if (options.redisUrl) {
      redis = { url: options.redisUrl, started: false, pid: await localPid(options.redisUrl) };
    } else {
      const unavailable = redisServerUnavailable();
      if (unavailable) throw new Error(`REDIS_URL is not set and no Redis can be started here: ${unavailable}`);
      if (options.redisCluster) {
        const cluster = await startRedisCluster({ masters: 3 });
        closers.push(() => cluster.close());
        redis = { url: cluster.url, started: true, pid: undefined };
      } else {
        const server = await startRedisServer();
        closers.push(() => server.close());
        redis = { url: server.url, started: true, pid: await pidListeningOn(server.port) };
      }
    }

    const s3Dir = await mkdtemp(path.join(tmpdir(), 'huddle-load-s3-'));
    closers.push(() => rm(s3Dir, { recursive: true, force: true }));
    const bucket = 'huddle-load';
    const s3 = await startS3Emulator({ port: 0, directory: s3Dir, bucket });
    closers.push(() => s3.close());
    const idp = await startIdentityProvider({ port: 0 });
    closers.push(() => idp.close());

    const prefix = `load${Date.now().toString(36)}${randomBytes(2).toString('hex')}-`;
    const raw = createDynamoClient({ region: 'us-east-1', endpoint: dynamodb.url });
    try {
      await ensureTables(raw, tableNames(prefix));
    } finally {
      raw.destroy();
    }

    return {
      env: {
        TABLE_PREFIX: prefix,
        DYNAMODB_ENDPOINT: dynamodb.url,
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: bucket,
        OIDC_ISSUER: idp.issuer,
        COGNITO_CLIENT_ID: LOCAL_CLIENT_ID,
        REDIS_URL: redis.url,
        REDIS_CLUSTER: String(options.redisCluster ?? false),
        REDIS_KEY_PREFIX: prefix,
        SESSION_SECRET: randomBytes(32).toString('base64url'),
      },
      redis,
      redisCluster: options.redisCluster ?? false,
      dynamodb,
      s3: { url: s3.endpoint, started: true, pid: process.pid },
      signIn: { url: idp.issuer, started: true, pid: process.pid },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
