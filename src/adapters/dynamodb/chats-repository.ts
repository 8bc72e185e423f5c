import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Chat } from '../../domain/chats/chat-rules.js';
import type { ChatsRepository } from '../../domain/chats/ports.js';
import { conditionFailed, transactionConditionFailed } from './conditional.js';
import { chatKey, userKey, type TableNames } from './table.js';

interface ChatItem {
  chat_id: string;
  kind: Chat['kind'];
  title: string;
  created_by: string;
  created_at: number;
  member_names: Record<string, string>;
  last_seq: number;
  read_seq: Record<string, number>;
  member_count: number;
  last_preview?: string;
  last_sender?: string;
  last_at?: number;
  updated_at: number;
}

function toChat(item: Record<string, unknown>): Chat {
  const c = item as unknown as ChatItem;
  return {
    chatId: c.chat_id,
    kind: c.kind,
    title: c.title,
    createdBy: c.created_by,
    createdAt: c.created_at,
    members: c.member_names ?? {},
    lastSeq: Number(c.last_seq ?? 0),
    readSeq: Object.fromEntries(Object.entries(c.read_seq ?? {}).map(([k, v]) => [k, Number(v)])),
    lastMessage:
      c.last_at !== undefined && c.last_sender !== undefined
        ? { seq: Number(c.last_seq), senderId: c.last_sender, preview: c.last_preview ?? '', at: c.last_at }
        : undefined,
    updatedAt: c.updated_at,
  };
}

/**
 * Membership is held twice: `member_names` (a map: member -> username) on the chat
 * row, which conditions test with `attribute_exists(member_names.#u)`, and the
 * `chat_ids` string set on each user row, for listing a user's chats. Every change
 * writes both in one transaction.
 */
export function createChatsRepository(doc: DynamoDBDocumentClient, tables: TableNames): ChatsRepository {
  const addToUser = (userId: string, chatId: string) => ({
    Update: {
      TableName: tables.users,
      Key: userKey(userId),
      UpdateExpression: 'ADD chat_ids :chat',
      ConditionExpression: 'attribute_exists(user_id)',
      ExpressionAttributeValues: { ':chat': new Set([chatId]) },
    },
  });
  const removeFromUser = (userId: string, chatId: string) => ({
    Update: {
      TableName: tables.users,
      Key: userKey(userId),
      UpdateExpression: 'DELETE chat_ids :chat',
      ExpressionAttributeValues: { ':chat': new Set([chatId]) },
    },
  });

  async function get(chatId: string): Promise<Chat | undefined> {
    const res = await doc.send(new GetCommand({ TableName: tables.chats, Key: chatKey(chatId), ConsistentRead: true }));
    return res.Item ? toChat(res.Item) : undefined;
  }

  return {
    async create(chat) {
      const item: ChatItem = {
        chat_id: chat.chatId,
        kind: chat.kind,
        title: chat.title,
        created_by: chat.createdBy,
        created_at: chat.createdAt,
        member_names: chat.members,
        last_seq: 0,
        read_seq: Object.fromEntries(Object.keys(chat.members).map((id) => [id, 0])),
        member_count: Object.keys(chat.members).length,
        updated_at: chat.updatedAt,
      };
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: tables.chats, Item: item, ConditionExpression: 'attribute_not_exists(chat_id)' } },
              ...Object.keys(chat.members).map((id) => addToUser(id, chat.chatId)),
            ],
          }),
        );
        return true;
      } catch (err) {
        if (transactionConditionFailed(err, 0)) return false;
        throw err;
      }
    },

    get,

    async getMany(chatIds) {
      const unique = [...new Set(chatIds)];
      const chats: Chat[] = [];
      for (let i = 0; i < unique.length; i += 100) {
        let keys: Record<string, unknown>[] | undefined = unique.slice(i, i + 100).map(chatKey);
        for (let attempt = 0; keys && keys.length > 0 && attempt < 8; attempt++) {
          const res: BatchGetCommandOutput = await doc.send(
            new BatchGetCommand({ RequestItems: { [tables.chats]: { Keys: keys, ConsistentRead: true } } }),
          );
          chats.push(...(res.Responses?.[tables.chats] ?? []).map(toChat));
          keys = res.UnprocessedKeys?.[tables.chats]?.Keys;
          if (keys?.length) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        }
      }
      return chats;
    },

    async chatIdsOf(userId) {
      const res = await doc.send(
        new GetCommand({ TableName: tables.users, Key: userKey(userId), ProjectionExpression: 'chat_ids', ConsistentRead: true }),
      );
      const ids = res.Item?.chat_ids as Set<string> | undefined;
      return ids ? [...ids] : [];
    },

    async addMember(chatId, member, byUserId, maxMembers, now) {
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: tables.chats,
                  Key: chatKey(chatId),
                  UpdateExpression:
                    'SET member_names.#u = :name, read_seq.#u = last_seq, member_count = if_not_exists(member_count, :zero) + :one, updated_at = :now',
                  ConditionExpression:
                    'kind = :group AND created_by = :by AND attribute_not_exists(member_names.#u) AND (attribute_not_exists(member_count) OR member_count < :max)',
                  ExpressionAttributeNames: { '#u': member.userId },
                  ExpressionAttributeValues: {
                    ':name': member.username,
                    ':group': 'group',
                    ':by': byUserId,
                    ':zero': 0,
                    ':one': 1,
                    ':max': maxMembers,
                    ':now': now,
                  },
                },
              },
              addToUser(member.userId, chatId),
            ],
          }),
        );
      } catch (err) {
        if (transactionConditionFailed(err)) return undefined;
        throw err;
      }
      return get(chatId);
    },

    async removeMember(chatId, userId, byUserId, now) {
      const leaving = userId === byUserId;
      try {
        await doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: tables.chats,
                  Key: chatKey(chatId),
                  UpdateExpression:
                    'REMOVE member_names.#u, read_seq.#u SET member_count = if_not_exists(member_count, :zero) - :one, updated_at = :now',
                  ConditionExpression: leaving
                    ? 'attribute_exists(member_names.#u) AND kind = :group'
                    : 'attribute_exists(member_names.#u) AND kind = :group AND created_by = :by',
                  ExpressionAttributeNames: { '#u': userId },
                  ExpressionAttributeValues: {
                    ':group': 'group',
                    ':zero': 0,
                    ':one': 1,
                    ':now': now,
                    ...(leaving ? {} : { ':by': byUserId }),
                  },
                },
              },
              removeFromUser(userId, chatId),
            ],
          }),
        );
      } catch (err) {
        if (transactionConditionFailed(err)) return undefined;
        throw err;
      }
      return get(chatId);
    },

    async allocateSeq(chatId, senderId, preview, now) {
      try {
        const res = await doc.send(
          new UpdateCommand({
            TableName: tables.chats,
            Key: chatKey(chatId),
            // Operands are read before the update applies, so both get the new value.
            UpdateExpression:
              'SET last_seq = last_seq + :one, read_seq.#s = last_seq + :one, last_preview = :preview, last_sender = :s, last_at = :now, updated_at = :now',
            ConditionExpression: 'attribute_exists(member_names.#s)',
            ExpressionAttributeNames: { '#s': senderId },
            ExpressionAttributeValues: { ':one': 1, ':preview': preview, ':s': senderId, ':now': now },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return Number(res.Attributes!.last_seq);
      } catch (err) {
        if (conditionFailed(err)) return undefined;
        throw err;
      }
    },

    async markRead(chatId, userId, seq) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tables.chats,
            Key: chatKey(chatId),
            UpdateExpression: 'SET read_seq.#u = :seq',
            ConditionExpression: 'attribute_exists(member_names.#u) AND read_seq.#u < :seq AND last_seq >= :seq',
            ExpressionAttributeNames: { '#u': userId },
            ExpressionAttributeValues: { ':seq': seq },
          }),
        );
        return 'ok';
      } catch (err) {
        if (!conditionFailed(err)) throw err;
        const chat = await get(chatId);
        return chat && Object.hasOwn(chat.members, userId) ? 'not_forward' : 'not_member';
      }
    },
  };
}
