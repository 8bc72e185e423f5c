import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoSettings {
  region: string;
  endpoint?: string | undefined;
}

/**
 * One document client per process. Against a local endpoint the credentials are
 * placeholders (DynamoDB Local accepts any); against AWS the default provider chain
 * (the ECS task role) supplies them.
 */
export function createDynamoClients(settings: DynamoSettings): { raw: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const raw = new DynamoDBClient({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 4,
    // Without timeouts a request to an endpoint that stopped answering waits forever,
    // and so would the socket or page waiting on it.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  });
  const doc = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { raw, doc };
}
