/**
 * The DynamoDB client the service uses, set up for what a request costs the
 * caller (docs/sdk-cost.md): the plain client (items are marshalled by
 * `items.ts`), its middleware stack resolved once per command class instead of on
 * every send, and two middleware that do nothing for huddle removed.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoSettings {
  region: string;
  endpoint?: string | undefined;
}

function clientOptions(settings: DynamoSettings) {
  return {
    region: settings.region,
    // Against a local endpoint the credentials are placeholders (DynamoDB Local accepts
    // any); against AWS the default provider chain (the ECS task role) supplies them.
    ...(settings.endpoint ? { endpoint: settings.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    maxAttempts: 4,
    // Without timeouts a request to an endpoint that stopped answering waits forever,
    // and so would the socket or page waiting on it.
    // throwOnRequestTimeout: without it the SDK only logs a warning when the timeout passes.
    requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  };
}

/** One per process. */
export function createDynamoClient(settings: DynamoSettings): DynamoDBClient {
  const client = new DynamoDBClient({ ...clientOptions(settings), cacheMiddleware: true });
  // Filters every input and output for a logger that is not there.
  client.middlewareStack.remove('loggerMiddleware');
  // Only acts inside AWS Lambda.
  client.middlewareStack.remove('recursionDetectionMiddleware');
  return client;
}

/**
 * A plain client and a document client over a second one, for scripts and tests
 * that read or prepare rows directly (the document client cannot share a client
 * whose middleware is cached).
 */
export function createToolClients(settings: DynamoSettings): { raw: DynamoDBClient; doc: DynamoDBDocumentClient; destroy(): void } {
  const raw = createDynamoClient(settings);
  const underDoc = new DynamoDBClient(clientOptions(settings));
  const doc = DynamoDBDocumentClient.from(underDoc, { marshallOptions: { removeUndefinedValues: true } });
  return {
    raw,
    doc,
    destroy() {
      raw.destroy();
      underDoc.destroy();
    },
  };
}
