/**
 * `npm run stack`: runs the local stack on its own (DynamoDB Local, the S3 emulator,
 * the local sign-in provider) so that several `npm start` instances can join it,
 * for example to load-test fan-out across instances sharing one Redis.
 * Stops everything it started on Ctrl-C / SIGTERM.
 */
import path from 'node:path';
import { configOrExit, fail } from './script-support.js';
import { startOrJoinLocalStack } from '../src/local/stack.js';

async function main() {
  const draft = configOrExit();
  if (draft.mode === 'aws') fail('npm run stack is for local mode: COGNITO_USER_POOL_ID is set, so huddle would use AWS.');

  const stack = await startOrJoinLocalStack(draft);
  const { dynamodbEndpoint, s3Endpoint, issuer, pid } = stack.addresses;
  const redisUrl = draft.redis.url ?? 'redis://127.0.0.1:6379';
  const absoluteDataDir = path.resolve(draft.local.dataDir);
  const relativeDataDir = path.relative(process.cwd(), absoluteDataDir);
  const dataDir = relativeDataDir.startsWith('..') ? absoluteDataDir : relativeDataDir || '.';
  const dataDirPrefix = draft.local.dataDir === '.data' ? '' : `LOCAL_DATA_DIR=${draft.local.dataDir} `;
  const services = [
    `  DynamoDB Local  ${dynamodbEndpoint}`,
    `  S3 emulator     ${s3Endpoint} (bucket ${draft.files.bucket})`,
    `  Sign-in         ${issuer}`,
    `  Data            ${dataDir}/ (addresses in ${path.join(dataDir, 'stack.json')})`,
  ];
  if (!stack.owned) {
    process.stdout.write([`A local stack is already running (process ${pid}); nothing started.`, ...services, ''].join('\n'));
    return;
  }

  process.stdout.write(
    [
      '',
      'Local stack running (Ctrl-C stops it):',
      ...services,
      '',
      'Start instances that join it, all on one Redis (each in its own terminal):',
      `  ${dataDirPrefix}REDIS_URL=${redisUrl} PORT=3000 npm start`,
      `  ${dataDirPrefix}REDIS_URL=${redisUrl} PORT=3001 npm start`,
      'Each instance finds the stack through the data folder and shares its tables, files and sign-in.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local stack\n`);
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => fail(`The local stack failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
