/**
 * ChatMessages in DynamoDB: messages at (chat_id, seq), and idempotency records at
 * (`dedupe#<sender>#<clientMsgId>`, 0), which no chat id can collide with (chat ids
 * never contain '#'). A commit is one TransactWriteItems: each message (its key must
 * be free), each idempotency record (likewise), and each sender's charge on their
 * WebSocketUsers row (membership read from `chat_ids`, the daily counter moved
 * under a condition that reads the tier). A refused condition names its item in
 * the cancellation reasons; the sender rows come back as they were.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  RetryableStoreError,
  sendKeyOf,
  type Commit,
  type CommitOutcome,
  type MessageLog,
  type SenderCharge,
  type SenderState,
  type SendKey,
  type SentRecord,
} from '../../domain/messages/ports.js';
import type { Message } from '../../model/index.js';
import type { Documents, Row, TransactItem } from './document.js';
import { isTransient } from './failures.js';
import { fromAttributes, type Attributes } from './items.js';
import { dedupeKey, TTL_ATTRIBUTE, userKey, type TableNames } from './table.js';

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

function messageItem(message: Message): Row {
  return {
    chat_id: message.chatId,
    seq: message.seq,
    sender_id: message.senderId,
    client_msg_id: message.clientMsgId,
    kind: message.kind,
    text: message.text,
    file: message.file,
    created_at: message.createdAt,
  } satisfies Partial<MessageItem>;
}

function senderStateOf(userId: string, item: Attributes | undefined): SenderState | undefined {
  if (!item) return undefined;
  const row = fromAttributes(item);
  return {
    userId,
    tier: row.is_premium === true ? 'premium' : 'free',
    chatIds: row.chat_ids instanceof Set ? (row.chat_ids as Set<string>) : new Set<string>(),
    quotaDay: typeof row.quota_day === 'string' ? row.quota_day : undefined,
    messagesToday: typeof row.messages_today === 'number' ? row.messages_today : 0,
  };
}

type ItemRole = { kind: 'message'; chatId: string } | { kind: 'dedupe'; key: SendKey } | { kind: 'charge'; userId: string };

export function createMessageLog(db: Documents, tables: Pick<TableNames, 'messages' | 'users'>): MessageLog {
  const tableName = tables.messages;

  /** The charge of one sender: membership of each chat, and room for `count` more today in their tier. */
  function chargeItem(charge: SenderCharge, limits: Commit['limits']): TransactItem {
    const { form, day, count } = charge.count;
    const values: Record<string, unknown> = { ':day': day, ':k': count };
    const membership = charge.chatIds.map((chatId, i) => {
      values[`:c${i}`] = chatId;
      return `contains(chat_ids, :c${i})`;
    });
    // One branch per tier that has room for `count` more; the tier is read by the condition itself.
    const branches: string[] = [];
    for (const [tier, limit, clause] of [
      ['free', limits.free, 'NOT is_premium = :true'],
      ['premium', limits.premium, 'is_premium = :true'],
    ] as const) {
      if (count > limit) continue;
      if (form === 'add') {
        values[`:${tier}Room`] = limit - count;
        branches.push(`(${clause} AND messages_today <= :${tier}Room)`);
      } else {
        branches.push(`(${clause})`);
      }
    }
    // Starting a day, `count` fits every tier that has a branch: with both, the tier does not matter.
    const tierCondition = form === 'start' && branches.length === 2 ? undefined : `(${branches.join(' OR ')})`;
    if (tierCondition) values[':true'] = true;
    const dayCondition = form === 'add' ? 'quota_day = :day' : '(attribute_not_exists(quota_day) OR quota_day <> :day)';
    return {
      Update: {
        TableName: tables.users,
        Key: userKey(charge.userId),
        UpdateExpression: form === 'add' ? 'ADD messages_today :k' : 'SET quota_day = :day, messages_today = :k',
        ConditionExpression: ['attribute_exists(user_id)', dayCondition, tierCondition, ...membership].filter(Boolean).join(' AND '),
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  return {
    async commit(commit: Commit): Promise<CommitOutcome> {
      const items: TransactItem[] = [];
      const roles: ItemRole[] = [];
      for (const message of commit.messages) {
        items.push({ Put: { TableName: tableName, Item: messageItem(message), ConditionExpression: 'attribute_not_exists(seq)' } });
        roles.push({ kind: 'message', chatId: message.chatId });
        items.push({
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
        });
        roles.push({ kind: 'dedupe', key: { senderId: message.senderId, clientMsgId: message.clientMsgId } });
      }
      for (const charge of commit.charges) {
        items.push(chargeItem(charge, commit.limits));
        roles.push({ kind: 'charge', userId: charge.userId });
      }
      try {
        await db.transactWrite(items, commit.token, commit.signal);
        return { status: 'committed' };
      } catch (err) {
        if (err instanceof TransactionCanceledException) return refusalOf(err, roles);
        // Abandoned at the deadline: it may or may not have landed, as with a lost answer.
        if (isTransient(err) || commit.signal?.aborted)
          throw new RetryableStoreError('the message commit did not reach DynamoDB', { cause: err });
        throw err;
      }
    },

    async findSent(keys) {
      const rows = await db.batchGet(
        tableName,
        keys.map((k) => dedupeKey(k.senderId, k.clientMsgId)),
        { consistent: true },
      );
      const found = new Map<string, SentRecord>();
      for (const row of rows) {
        const [, senderId, clientMsgId] = String(row.chat_id).split('#');
        found.set(sendKeyOf({ senderId: senderId!, clientMsgId: clientMsgId! }), {
          chatId: String(row.sent_chat_id),
          seq: Number(row.sent_seq),
          createdAt: Number(row.created_at),
        });
      }
      return found;
    },

    async highestSeq(chatId) {
      const { items } = await db.query({
        TableName: tableName,
        KeyConditionExpression: 'chat_id = :c',
        ExpressionAttributeValues: { ':c': chatId },
        ProjectionExpression: 'seq',
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      });
      return items[0] ? Number(items[0].seq) : 0;
    },

    async page(chatId, before, limit) {
      const { items } = await db.query({
        TableName: tableName,
        KeyConditionExpression: before === undefined ? 'chat_id = :c' : 'chat_id = :c AND seq < :before',
        ExpressionAttributeValues: { ':c': chatId, ...(before === undefined ? {} : { ':before': before }) },
        ScanIndexForward: false,
        Limit: limit + 1,
        ConsistentRead: true,
      });
      return { messages: items.slice(0, limit).map(toMessage).reverse(), hasMore: items.length > limit };
    },

    async after(chatId, after, limit) {
      const messages: Message[] = [];
      let startKey: Row | undefined;
      do {
        const page = await db.query({
          TableName: tableName,
          KeyConditionExpression: 'chat_id = :c AND seq > :after',
          ExpressionAttributeValues: { ':c': chatId, ':after': after },
          ScanIndexForward: true,
          Limit: limit - messages.length,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        });
        messages.push(...page.items.map(toMessage));
        startKey = page.lastKey;
      } while (startKey && messages.length < limit);
      return messages;
    },
  };
}

/** Reads a cancelled commit's reasons: which conditions failed, or whether to simply try again. */
function refusalOf(err: TransactionCanceledException, roles: readonly ItemRole[]): CommitOutcome {
  const reasons = err.CancellationReasons ?? [];
  const refused: Extract<CommitOutcome, { status: 'refused' }> = { status: 'refused', duplicates: [], senders: [], seqTaken: [] };
  let transient = false;
  reasons.forEach((reason, i) => {
    const role = roles[i];
    if (!role || !reason.Code || reason.Code === 'None') return;
    if (reason.Code !== 'ConditionalCheckFailed') {
      // TransactionConflict, ThrottlingError, ProvisionedThroughputExceeded: nothing is wrong with the commit itself.
      transient = true;
      return;
    }
    if (role.kind === 'message' && !refused.seqTaken.includes(role.chatId)) refused.seqTaken.push(role.chatId);
    if (role.kind === 'dedupe') refused.duplicates.push(role.key);
    if (role.kind === 'charge') refused.senders.push({ userId: role.userId, state: senderStateOf(role.userId, reason.Item) });
  });
  const anyCondition = refused.duplicates.length + refused.senders.length + refused.seqTaken.length > 0;
  if (!anyCondition) {
    if (transient || reasons.length === 0)
      throw new RetryableStoreError('the message commit was cancelled by a conflict or throttling', { cause: err });
    throw err;
  }
  return refused;
}
