/**
 * `npm run user:tier` as an operator runs it: a child process with the service's
 * environment, against DynamoDB Local and Redis. A socket's instance would be
 * subscribed to the user's channel; here a bus subscribed the same way stands in.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import type { ServerFrame } from '../../src/transport/realtime/protocol.js';
import { createRedisBus } from '../../src/adapters/redis/redis-bus.js';
import { silentLogger } from '../../src/domain/logger.js';
import { userChannel, type BusDelivery } from '../../src/domain/fanout/ports.js';
import { freePort, requireEnv, uniqueId } from '../helpers/test-stack.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function userTier(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', 'scripts/user-tier.ts', ...args], {
      // Only what the test gives: the developer's own settings must not leak in.
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('user:tier sets the tier, prints the new limits and pushes a quota frame to open sockets', async (t) => {
  const dynamodbEndpoint = requireEnv('DYNAMODB_ENDPOINT');
  const redisUrl = requireEnv('REDIS_URL');
  const tablePrefix = `${uniqueId('tier')}-`;
  const redisKeyPrefix = `${tablePrefix}`;
  const raw = createDynamoClient({ region: 'us-east-1', endpoint: dynamodbEndpoint });
  t.teardown(() => raw.destroy());
  await ensureTables(raw, tableNames(tablePrefix));
  const users = createUsersRepository(documentsOver(raw), tableNames(tablePrefix).users);
  const username = uniqueId('carol').toLowerCase();
  const userId = uniqueId('sub');
  await users.upsertOnSignIn({ userId, username }, Date.now());

  const bus = await createRedisBus<ServerFrame>({ url: redisUrl, keyPrefix: redisKeyPrefix, logger: silentLogger });
  t.teardown(() => bus.close());
  await bus.subscribe(userChannel(userId));
  const frames: BusDelivery[] = [];
  bus.onDelivery((delivery) => frames.push(delivery));

  const env = {
    DYNAMODB_ENDPOINT: dynamodbEndpoint,
    TABLE_PREFIX: tablePrefix,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    FREE_MESSAGES_PER_DAY: '20',
    PREMIUM_MESSAGES_PER_DAY: '40',
  };

  // 1. Free to premium: the row changes and the frame goes out.
  const up = await userTier([username, 'premium'], env);
  t.equal(up.code, 0, 'exits 0', { stderr: up.stderr });
  t.match(up.stdout, `${username}: free -> premium`);
  t.match(up.stdout, 'messages today: 0 of 40');
  t.match(up.stdout, 'storage: 0 bytes of 1 GB');
  t.match(up.stdout, 'open sockets were sent the new quota through Redis');
  t.equal((await users.getById(userId))?.tier, 'premium');
  t.equal(frames.length, 1, 'one quota frame reached the user channel');
  t.match(frames[0]?.frame, { type: 'quota', quota: { tier: 'premium', messagesPerDay: 40, storageLimitBytes: 1024 * 1024 * 1024 } });

  // 2. The same again: nothing changes, and it says so.
  const again = await userTier([username.toUpperCase(), 'premium'], env);
  t.equal(again.code, 0, 'exits 0', { stderr: again.stderr });
  t.match(again.stdout, `${username}: already premium (unchanged)`, 'the name is found whatever its case');

  // 3. Back to free.
  const down = await userTier([username, 'free'], env);
  t.equal(down.code, 0, 'exits 0', { stderr: down.stderr });
  t.match(down.stdout, 'premium -> free');
  t.equal((await users.getById(userId))?.tier, 'free');
  t.match(frames.at(-1)?.frame, { type: 'quota', quota: { tier: 'free', messagesPerDay: 20 } });

  // 4. Without Redis it still works, and says who will not hear of it.
  const quiet = await userTier([username, 'premium'], { ...env, REDIS_URL: '' });
  t.equal(quiet.code, 0, 'exits 0', { stderr: quiet.stderr });
  t.match(quiet.stdout, 'no REDIS_URL: open sockets learn the new tier when they reconnect');
});

t.test('user:tier fails clearly: unknown user, bad arguments, local stack not running, bad configuration', async (t) => {
  const dynamodbEndpoint = requireEnv('DYNAMODB_ENDPOINT');
  const tablePrefix = `${uniqueId('tier')}-`;
  const raw = createDynamoClient({ region: 'us-east-1', endpoint: dynamodbEndpoint });
  t.teardown(() => raw.destroy());
  await ensureTables(raw, tableNames(tablePrefix));
  const env = { DYNAMODB_ENDPOINT: dynamodbEndpoint, TABLE_PREFIX: tablePrefix };

  const dataDir = await mkdtemp(path.join(tmpdir(), 'huddle-tier-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const staleDir = await mkdtemp(path.join(tmpdir(), 'huddle-tier-'));
  t.teardown(() => rm(staleDir, { recursive: true, force: true }));
  // A stack file left behind by a stack that has stopped.
  const deadPort = await freePort();
  await writeFile(path.join(staleDir, 'stack.json'), JSON.stringify({ dynamodbEndpoint: `http://127.0.0.1:${deadPort}` }));

  // Independent runs, so at once.
  const [unknown, noArgs, badTier, noStack, stale, badConfig] = await Promise.all([
    userTier(['nobody-at-all', 'premium'], env),
    userTier([], env),
    userTier(['someone', 'gold'], env),
    userTier(['someone', 'premium'], { LOCAL_DATA_DIR: dataDir }),
    userTier(['someone', 'premium'], { LOCAL_DATA_DIR: staleDir, TABLE_PREFIX: tablePrefix }),
    userTier(['someone', 'premium'], { ...env, FREE_MESSAGES_PER_DAY: 'lots' }),
  ]);

  t.equal(unknown.code, 1);
  t.match(unknown.stderr, `No user named "nobody-at-all" in ${dynamodbEndpoint} (table prefix "${tablePrefix}")`);
  t.equal(noArgs.code, 1);
  t.match(noArgs.stderr, 'Usage: npm run user:tier -- <username> premium|free');
  t.equal(badTier.code, 1);
  t.match(badTier.stderr, 'Unknown tier "gold": use premium or free');
  t.equal(noStack.code, 1);
  t.match(noStack.stderr, 'The local stack is not running');
  t.equal(stale.code, 1);
  t.match(stale.stderr, `Nothing answers at http://127.0.0.1:${deadPort}`);
  t.equal(badConfig.code, 1);
  t.match(badConfig.stderr, 'FREE_MESSAGES_PER_DAY');
});
