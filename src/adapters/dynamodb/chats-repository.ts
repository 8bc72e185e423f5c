import type { Chat } from '../../domain/chats/chat-rules.js';
import type { ChatsRepository } from '../../domain/chats/ports.js';
import type { Documents, Row, TransactItem } from './document.js';
import { appliedIfCondition, conditionFailed, transactionConditionFailed } from './failures.js';
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

/** DynamoDB takes at most this many items in one transaction. */
const TRANSACTION_MAX_ITEMS = 100;

/**
 * Membership is held twice: `member_names` (a map: member -> username) on the chat
 * row, which conditions test with `attribute_exists(member_names.#u)`, and the
 * `chat_ids` string set on each user row, for listing a user's chats. Every change
 * writes both in one transaction, except a group created with more than 99 members
 * (see `create`).
 */
export function createChatsRepository(db: Documents, tables: TableNames): ChatsRepository {
  const addToUser = (userId: string, chatId: string): TransactItem => ({
    Update: {
      TableName: tables.users,
      Key: userKey(userId),
      UpdateExpression: 'ADD chat_ids :chat',
      ConditionExpression: 'attribute_exists(user_id)',
      ExpressionAttributeValues: { ':chat': new Set([chatId]) },
    },
  });
  const removeFromUser = (userId: string, chatId: string): TransactItem => ({
    Update: {
      TableName: tables.users,
      Key: userKey(userId),
      UpdateExpression: 'DELETE chat_ids :chat',
      ExpressionAttributeValues: { ':chat': new Set([chatId]) },
    },
  });

  /** Best effort: a member list left pointing at a chat that was never created is only clutter. */
  async function unlist(userIds: readonly string[], chatId: string): Promise<void> {
    for (let i = 0; i < userIds.length; i += TRANSACTION_MAX_ITEMS) {
      const batch = userIds.slice(i, i + TRANSACTION_MAX_ITEMS);
      await db.transactWrite(batch.map((id) => removeFromUser(id, chatId))).catch(() => {});
    }
  }

  async function get(chatId: string): Promise<Chat | undefined> {
    const row = await db.get({ TableName: tables.chats, Key: chatKey(chatId), ConsistentRead: true });
    return row ? toChat(row) : undefined;
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
      const memberIds = Object.keys(chat.members);
      const withRow = memberIds.slice(0, TRANSACTION_MAX_ITEMS - 1);
      const ahead = memberIds.slice(TRANSACTION_MAX_ITEMS - 1);
      const listed: string[] = [];
      try {
        // Members past what one transaction holds beside the chat row are listed first, in
        // transactions of their own: until the row exists their lists point at nothing, and
        // chat lists skip ids with no row. The row and the rest go last, all or nothing.
        for (let i = 0; i < ahead.length; i += TRANSACTION_MAX_ITEMS) {
          const batch = ahead.slice(i, i + TRANSACTION_MAX_ITEMS);
          await db.transactWrite(batch.map((id) => addToUser(id, chat.chatId)));
          listed.push(...batch);
        }
      } catch (err) {
        await unlist(listed, chat.chatId);
        throw err;
      }
      try {
        await db.transactWrite([
          { Put: { TableName: tables.chats, Item: { ...item }, ConditionExpression: 'attribute_not_exists(chat_id)' } },
          ...withRow.map((id) => addToUser(id, chat.chatId)),
        ]);
        return true;
      } catch (err) {
        // A chat of this id already exists: the lists written above are its members' too.
        if (transactionConditionFailed(err, 0)) return false;
        await unlist(listed, chat.chatId);
        throw err;
      }
    },

    get,

    async getMany(chatIds) {
      // Through the batched reads: sockets connecting together share requests, and members of one chat one key.
      const rows = await Promise.all(
        [...new Set(chatIds)].map((chatId) => db.get({ TableName: tables.chats, Key: chatKey(chatId), ConsistentRead: true })),
      );
      return rows.filter((row): row is Row => row !== undefined).map(toChat);
    },

    async chatIdsOf(userId) {
      const row = await db.get({ TableName: tables.users, Key: userKey(userId), ProjectionExpression: 'chat_ids', ConsistentRead: true });
      const ids = row?.chat_ids as Set<string> | undefined;
      return ids ? [...ids] : [];
    },

    async addMember(chatId, member, byUserId, maxMembers, now) {
      try {
        await db.transactWrite([
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
        ]);
      } catch (err) {
        if (transactionConditionFailed(err)) return undefined;
        throw err;
      }
      return get(chatId);
    },

    async removeMember(chatId, userId, byUserId, now) {
      const leaving = userId === byUserId;
      try {
        await db.transactWrite([
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
        ]);
      } catch (err) {
        if (transactionConditionFailed(err)) return undefined;
        throw err;
      }
      return get(chatId);
    },

    async recordActivity(chatId, activity) {
      const readers = Object.entries(activity.reads);
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {
        ':seq': activity.lastSeq,
        ':preview': activity.preview,
        ':sender': activity.senderId,
        ':at': activity.at,
      };
      const reads = readers.map(([userId, seq], i) => {
        names[`#r${i}`] = userId;
        values[`:r${i}`] = seq;
        return `read_seq.#r${i} = :r${i}`;
      });
      const moved = await appliedIfCondition(
        db.update({
          TableName: tables.chats,
          Key: chatKey(chatId),
          UpdateExpression: [
            'SET last_seq = :seq, last_preview = :preview, last_sender = :sender, last_at = :at, updated_at = :at',
            ...reads,
          ].join(', '),
          // Forward only: another instance may have recorded a later message already. (Equal
          // passes: while Redis is away, seqs come from this very counter.)
          ConditionExpression: 'attribute_exists(chat_id) AND (attribute_not_exists(last_seq) OR last_seq <= :seq)',
          ...(readers.length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: values,
        }),
      );
      if (moved) return;
      // The row is ahead already: still move each sender's own read position forward.
      await Promise.all(
        readers.map(([userId, seq]) =>
          appliedIfCondition(
            db.update({
              TableName: tables.chats,
              Key: chatKey(chatId),
              UpdateExpression: 'SET read_seq.#u = :seq',
              ConditionExpression: 'attribute_exists(member_names.#u) AND (attribute_not_exists(read_seq.#u) OR read_seq.#u < :seq)',
              ExpressionAttributeNames: { '#u': userId },
              ExpressionAttributeValues: { ':seq': seq },
            }),
          ),
        ),
      );
    },

    async markRead(chatId, userId, seq) {
      try {
        await db.update({
          TableName: tables.chats,
          Key: chatKey(chatId),
          UpdateExpression: 'SET read_seq.#u = :seq',
          ConditionExpression: 'attribute_exists(member_names.#u) AND (attribute_not_exists(read_seq.#u) OR read_seq.#u < :seq)',
          ExpressionAttributeNames: { '#u': userId },
          ExpressionAttributeValues: { ':seq': seq },
        });
        return 'ok';
      } catch (err) {
        if (!conditionFailed(err)) throw err;
        const chat = await get(chatId);
        return chat && Object.hasOwn(chat.members, userId) ? 'not_forward' : 'not_member';
      }
    },
  };
}
