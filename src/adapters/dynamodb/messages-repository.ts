import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AppendResult, MessageStore, SentRecord } from '../../domain/messages/ports.js';
import type { Message } from '../../model/index.js';
import { transactionConditionFailed } from './conditional.js';
import { dedupeKey, TTL_ATTRIBUTE } from './table.js';

/** How long a retry with the same clientMsgId is recognised. */
const DEDUPE_TTL_S = 7 * 24 * 3600;

interface MessageItem {
  chat_id: string;
  seq: number;
  sender_id: string;
  client_msg_id: string;
  kind: Message['kind'];
  text?: string;
  file?: Message['file'];
  created_at: number;
}

function toMessage(item: Record<string, unknown>): Message {
  const m = item as unknown as MessageItem;
  return {
    chatId: m.chat_id,
    seq: Number(m.seq),
    senderId: m.sender_id,
    clientMsgId: m.client_msg_id,
    kind: m.kind,
    ...(m.text !== undefined ? { text: m.text } : {}),
    ...(m.file ? { file: m.file } : {}),
    createdAt: Number(m.created_at),
  };
}

function toSent(item: Record<string, unknown>): SentRecord {
  return { chatId: String(item.sent_chat_id), seq: Number(item.sent_seq), createdAt: Number(item.created_at) };
}

export function createMessagesRepository(doc: DynamoDBDocumentClient, tableName: string): MessageStore {
  async function findSent(senderId: string, clientMsgId: string) {
    const res = await doc.send(new GetCommand({ TableName: tableName, Key: dedupeKey(senderId, clientMsgId), ConsistentRead: true }));
    return res.Item ? toSent(res.Item) : undefined;
  }

  return {
    findSent,

    async append(message): Promise<AppendResult> {
      const item: MessageItem = {
        chat_id: message.chatId,
        seq: message.seq,
        sender_id: message.senderId,
        client_msg_id: message.clientMsgId,
        kind: message.kind,
        ...(message.text !== undefined ? { text: message.text } : {}),
        ...(message.file ? { file: message.file } : {}),
        created_at: message.createdAt,
      };
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: {
                    ...dedupeKey(message.senderId, message.clientMsgId),
                    sent_chat_id: message.chatId,
                    sent_seq: message.seq,
                    created_at: message.createdAt,
                    [TTL_ATTRIBUTE]: Math.floor(message.createdAt / 1000) + DEDUPE_TTL_S,
                  },
                  ConditionExpression: 'attribute_not_exists(chat_id)',
                },
              },
              { Put: { TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(seq)' } },
            ],
          }),
        );
        return { status: 'stored' };
      } catch (err) {
        if (transactionConditionFailed(err, 0)) {
          const original = await findSent(message.senderId, message.clientMsgId);
          if (original) return { status: 'duplicate', original };
        }
        throw err;
      }
    },

    async page(chatId, before, limit) {
      const res = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: before === undefined ? 'chat_id = :c' : 'chat_id = :c AND seq < :before',
          ExpressionAttributeValues: { ':c': chatId, ...(before === undefined ? {} : { ':before': before }) },
          ScanIndexForward: false,
          Limit: limit + 1,
          ConsistentRead: true,
        }),
      );
      const items = res.Items ?? [];
      return { messages: items.slice(0, limit).map(toMessage).reverse(), hasMore: items.length > limit };
    },

    async after(chatId, after, limit) {
      const messages: Message[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const res = await doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: 'chat_id = :c AND seq > :after',
            ExpressionAttributeValues: { ':c': chatId, ':after': after },
            ScanIndexForward: true,
            Limit: limit - messages.length,
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        messages.push(...(res.Items ?? []).map(toMessage));
        startKey = res.LastEvaluatedKey;
      } while (startKey && messages.length < limit);
      return messages;
    },
  };
}
