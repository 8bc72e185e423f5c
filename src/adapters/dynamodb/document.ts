/**
 * The repositories' way to DynamoDB: requests written with plain JavaScript values
 * (keys, items, expression values), sent through the service's plain client
 * (client.ts) and translated by `items.ts`. It stands in for the SDK's document
 * client, which cannot use a client whose middleware is cached.
 */
import {
  BatchGetItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type ReturnValue,
  type ReturnValuesOnConditionCheckFailure,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { createBatchedReads } from './batched-reads.js';
import { fromAttributes, toAttributes, type Attributes } from './items.js';

export type Row = Record<string, unknown>;

interface Expressions {
  ConditionExpression?: string | undefined;
  ExpressionAttributeNames?: Record<string, string> | undefined;
  ExpressionAttributeValues?: Row | undefined;
}

export interface UpdateInput extends Expressions {
  TableName: string;
  Key: Row;
  UpdateExpression: string;
  ReturnValues?: ReturnValue;
  ReturnValuesOnConditionCheckFailure?: ReturnValuesOnConditionCheckFailure;
}

export interface PutInput extends Expressions {
  TableName: string;
  Item: Row;
}

export type TransactItem =
  { Put: PutInput } | { Update: Omit<UpdateInput, 'ReturnValues'> } | { Delete: Expressions & { TableName: string; Key: Row } };

export interface QueryInput {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression: string;
  ExpressionAttributeValues: Row;
  ExpressionAttributeNames?: Record<string, string>;
  ProjectionExpression?: string;
  ScanIndexForward?: boolean;
  Limit?: number;
  ConsistentRead?: boolean;
  ExclusiveStartKey?: Row | undefined;
}

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_MAX = 100;

const values = (v: Row | undefined) => (v ? toAttributes(v) : undefined);

function expressions(input: Expressions) {
  return {
    ConditionExpression: input.ConditionExpression,
    ExpressionAttributeNames: input.ExpressionAttributeNames,
    ExpressionAttributeValues: values(input.ExpressionAttributeValues),
  };
}

function transactItem(item: TransactItem): TransactWriteItem {
  if ('Put' in item) return { Put: { TableName: item.Put.TableName, Item: toAttributes(item.Put.Item), ...expressions(item.Put) } };
  if ('Update' in item) {
    const u = item.Update;
    return {
      Update: {
        TableName: u.TableName,
        Key: toAttributes(u.Key),
        UpdateExpression: u.UpdateExpression,
        ReturnValuesOnConditionCheckFailure: u.ReturnValuesOnConditionCheckFailure,
        ...expressions(u),
      },
    };
  }
  return { Delete: { TableName: item.Delete.TableName, Key: toAttributes(item.Delete.Key), ...expressions(item.Delete) } };
}

export type Documents = ReturnType<typeof documentsOver>;

export function documentsOver(client: DynamoDBClient) {
  const documents = {
    client,

    /**
     * One row. Consistent reads of whole rows are gathered with the others asked for
     * in the same turn of the event loop into one BatchGetItem (batched-reads.ts).
     */
    async get(input: { TableName: string; Key: Row; ConsistentRead?: boolean; ProjectionExpression?: string }): Promise<Row | undefined> {
      if (input.ConsistentRead && !input.ProjectionExpression) return batched.get(input.TableName, input.Key);
      const res = await client.send(new GetItemCommand({ ...input, Key: toAttributes(input.Key) }));
      return res.Item ? fromAttributes(res.Item) : undefined;
    },

    async put(input: PutInput): Promise<void> {
      await client.send(new PutItemCommand({ TableName: input.TableName, Item: toAttributes(input.Item), ...expressions(input) }));
    },

    /** The row as `ReturnValues` asks (undefined for NONE). */
    async update(input: UpdateInput): Promise<Row | undefined> {
      const res = await client.send(
        new UpdateItemCommand({
          TableName: input.TableName,
          Key: toAttributes(input.Key),
          UpdateExpression: input.UpdateExpression,
          ReturnValues: input.ReturnValues,
          ReturnValuesOnConditionCheckFailure: input.ReturnValuesOnConditionCheckFailure,
          ...expressions(input),
        }),
      );
      return res.Attributes ? fromAttributes(res.Attributes) : undefined;
    },

    /** The deleted row, when `ReturnValues: 'ALL_OLD'`. */
    async delete(input: { TableName: string; Key: Row; ReturnValues?: ReturnValue }): Promise<Row | undefined> {
      const res = await client.send(new DeleteItemCommand({ ...input, Key: toAttributes(input.Key) }));
      return res.Attributes ? fromAttributes(res.Attributes) : undefined;
    },

    async query(input: QueryInput): Promise<{ items: Row[]; lastKey: Row | undefined }> {
      const res = await client.send(
        new QueryCommand({
          ...input,
          ExpressionAttributeValues: toAttributes(input.ExpressionAttributeValues),
          ExclusiveStartKey: input.ExclusiveStartKey ? toAttributes(input.ExclusiveStartKey) : undefined,
        }),
      );
      return {
        items: (res.Items ?? []).map(fromAttributes),
        lastKey: res.LastEvaluatedKey ? fromAttributes(res.LastEvaluatedKey) : undefined,
      };
    },

    /** Every row found for `keys` (any order), asking again for keys DynamoDB left unprocessed. */
    async batchGet(tableName: string, keys: readonly Row[], options: { consistent?: boolean; projection?: string } = {}): Promise<Row[]> {
      const found: Row[] = [];
      for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
        let pending: Attributes[] | undefined = keys.slice(i, i + BATCH_GET_MAX).map(toAttributes);
        for (let attempt = 0; pending && pending.length > 0; attempt++) {
          if (attempt >= 8) throw new Error('DynamoDB kept keys of a BatchGetItem unprocessed');
          const res: BatchGetItemCommandOutput = await client.send(
            new BatchGetItemCommand({
              RequestItems: {
                [tableName]: { Keys: pending, ConsistentRead: options.consistent, ProjectionExpression: options.projection },
              },
            }),
          );
          found.push(...(res.Responses?.[tableName] ?? []).map(fromAttributes));
          pending = res.UnprocessedKeys?.[tableName]?.Keys;
          if (pending?.length) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        }
      }
      return found;
    },

    /** `signal` abandons the request (and the SDK's retries of it) when it fires. */
    async transactWrite(items: readonly TransactItem[], clientRequestToken?: string, signal?: AbortSignal): Promise<void> {
      await client.send(new TransactWriteItemsCommand({ TransactItems: items.map(transactItem), ClientRequestToken: clientRequestToken }), {
        abortSignal: signal,
      });
    },
  };
  const batched = createBatchedReads(documents);
  return documents;
}
