/**
 * `npm run tables:create`: creates the four DynamoDB tables (and their TTL settings)
 * under TABLE_PREFIX when missing; safe to run again. Targets DYNAMODB_ENDPOINT when
 * set, else AWS (AWS mode: COGNITO_USER_POOL_ID and the variables it requires, with
 * credentials from the usual AWS chain).
 */
import { configOrExit, fail } from './script-support.js';
import { createDynamoClient } from '../src/adapters/dynamodb/client.js';
import { tableNames } from '../src/adapters/dynamodb/table.js';
import { ensureTables } from '../src/adapters/dynamodb/tables-admin.js';

function explain(err: unknown, target: string): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string } }).cause;
  if ((err as { code?: string }).code === 'ECONNREFUSED' || cause?.code === 'ECONNREFUSED') {
    return `nothing answers at ${target}`;
  }
  if (err.name === 'CredentialsProviderError') {
    return 'no AWS credentials found (set a profile, environment credentials or run with a role)';
  }
  return `${err.name}: ${err.message}`;
}

async function main() {
  const draft = configOrExit();

  if (draft.mode === 'local' && !draft.aws.dynamodbEndpoint) {
    process.stdout.write(
      [
        'Nothing to do: locally, `npm start` and `npm run stack` start DynamoDB Local and create the tables themselves.',
        'To create them in a running DynamoDB Local, set DYNAMODB_ENDPOINT (e.g. DYNAMODB_ENDPOINT=http://127.0.0.1:8000).',
        'To create them in AWS, run with the service settings (COGNITO_USER_POOL_ID, AWS_REGION, ...) and AWS credentials,',
        'or deploy deploy/cloudformation.yml, which creates them.',
      ].join('\n') + '\n',
    );
    return;
  }

  const names = tableNames(draft.tables.prefix);
  const target = draft.aws.dynamodbEndpoint ?? `DynamoDB in ${draft.aws.region}`;
  const raw = createDynamoClient({ region: draft.aws.region, endpoint: draft.aws.dynamodbEndpoint });
  try {
    const result = await ensureTables(raw, names);
    const lines = [`Tables in ${target}:`];
    for (const name of result.created) lines.push(`  created  ${name}`);
    for (const name of result.existing) lines.push(`  existing ${name}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (err) {
    fail(`Could not create the tables in ${target}: ${explain(err, target)}`);
  } finally {
    raw.destroy();
  }
}

main().catch((err: unknown) => fail(`tables:create failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
