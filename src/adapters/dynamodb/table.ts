/**
 * The key design: the only module that knows table names, key attributes and
 * index names. Repositories build keys through it.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export interface TableNames {
  users: string;
  chats: string;
  messages: string;
  sessions: string;
}

export function tableNames(prefix: string): TableNames {
  return {
    users: `${prefix}WebSocketUsers`,
    chats: `${prefix}ChatSessions`,
    messages: `${prefix}ChatMessages`,
    sessions: `${prefix}UserSessions`,
  };
}

/** GSI on WebSocketUsers for finding a user by username (direct chats, adding members). */
export const USERNAME_INDEX = 'username-index';

/** DynamoDB TTL attribute (epoch seconds) on UserSessions and on ChatMessages' dedupe records. */
export const TTL_ATTRIBUTE = 'ttl';

export const userKey = (userId: string) => ({ user_id: userId });
export const chatKey = (chatId: string) => ({ chat_id: chatId });
export const messageKey = (chatId: string, seq: number) => ({ chat_id: chatId, seq });
export const sessionKey = (sessionIdHash: string) => ({ session_id: sessionIdHash });

/**
 * Idempotency records share ChatMessages under a partition key no chat id can take
 * (chat ids never contain '#'), at seq 0, so a retried `send` finds the original on
 * any instance and the record expires through TTL.
 */
export const dedupeKey = (senderId: string, clientMsgId: string) => ({
  chat_id: `dedupe#${senderId}#${clientMsgId}`,
  seq: 0,
});

export interface TableDefinition {
  create: CreateTableCommandInput;
  ttlAttribute?: string;
}

export function tableDefinitions(names: TableNames): TableDefinition[] {
  return [
    {
      create: {
        TableName: names.users,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'user_id', AttributeType: 'S' },
          { AttributeName: 'username', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: USERNAME_INDEX,
            KeySchema: [{ AttributeName: 'username', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      },
    },
    {
      create: {
        TableName: names.chats,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'chat_id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'chat_id', KeyType: 'HASH' }],
      },
    },
    {
      create: {
        TableName: names.messages,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'chat_id', AttributeType: 'S' },
          { AttributeName: 'seq', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'chat_id', KeyType: 'HASH' },
          { AttributeName: 'seq', KeyType: 'RANGE' },
        ],
      },
      ttlAttribute: TTL_ATTRIBUTE,
    },
    {
      create: {
        TableName: names.sessions,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'session_id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'session_id', KeyType: 'HASH' }],
      },
      ttlAttribute: TTL_ATTRIBUTE,
    },
  ];
}
