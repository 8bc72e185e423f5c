import fp from 'fastify-plugin';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config.js';
import { createDynamoClients } from '../adapters/dynamodb/client.js';
import { tableNames, type TableNames } from '../adapters/dynamodb/table.js';
import { createUsersRepository } from '../adapters/dynamodb/users-repository.js';
import type { UsersRepository } from '../domain/users/ports.js';

export interface Store {
  raw: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  tables: TableNames;
  users: UsersRepository;
}

export interface Blob {
  s3: S3Client;
  bucket: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    blob: Blob;
  }
}

/** DynamoDB and S3 clients and the repositories every other plugin shares; destroyed on close. */
export default fp(
  async (app, opts: { config: Config }) => {
    const { raw, doc } = createDynamoClients({ region: opts.config.aws.region, endpoint: opts.config.aws.dynamodbEndpoint });
    const tables = tableNames(opts.config.tables.prefix);
    app.decorate('config', opts.config);
    app.decorate('store', { raw, doc, tables, users: createUsersRepository(doc, tables.users) });
    const s3 = new S3Client({
      region: opts.config.aws.region,
      // Presigned PUTs must not carry the SDK's default checksum of an empty body: real S3 rejects it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
      ...(opts.config.aws.s3Endpoint
        ? {
            endpoint: opts.config.aws.s3Endpoint,
            forcePathStyle: true,
            credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          }
        : {}),
    });
    app.decorate('blob', { s3, bucket: opts.config.files.bucket });
    app.addHook('onClose', async () => {
      raw.destroy();
      s3.destroy();
    });
  },
  { name: 'aws' },
);
