import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { tableDefinitions, type TableNames } from './table.js';

export interface EnsureTablesResult {
  created: string[];
  existing: string[];
}

/** Creates the four tables and their TTL settings when missing; safe to run again. */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<EnsureTablesResult> {
  const result: EnsureTablesResult = { created: [], existing: [] };
  for (const def of tableDefinitions(names)) {
    const name = def.create.TableName!;
    try {
      await client.send(new CreateTableCommand(def.create));
      result.created.push(name);
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
      result.existing.push(name);
    }
    await waitUntilTableExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: name });
    if (def.ttlAttribute) {
      const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
      const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
      if (status !== 'ENABLED' && status !== 'ENABLING') {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true },
          }),
        );
      }
    }
  }
  return result;
}

/**
 * The readiness probe's DynamoDB check: one DescribeTable of the messages table,
 * which answers only when DynamoDB is reachable and the tables exist.
 */
export async function tablesReachable(client: DynamoDBClient, names: TableNames): Promise<void> {
  await client.send(new DescribeTableCommand({ TableName: names.messages }));
}
