/**
 * Seqs from the chat row's `last_seq` (`ADD last_seq :n`, one request per chat):
 * slower than Redis, and used only while the shared sequencer cannot be reached
 * (see `failover-sequencer.ts` in the domain), so that sends keep working through
 * a Redis outage. It may hand out seqs the Redis sequencer handed out too (the
 * row lags by up to CHAT_ROW_INTERVAL_MS); the message log's condition on each
 * message key refuses those, and the writer seeds past the highest stored seq.
 */
import type { Sequencer } from '../../domain/messages/ports.js';
import type { Documents } from './document.js';
import { appliedIfCondition } from './failures.js';
import { chatKey } from './table.js';

export function createRowSequencer(db: Documents, chatsTable: string): Sequencer {
  return {
    async allocate(requests) {
      const firsts = await Promise.all(
        requests.map(async ({ chatId, count }) => {
          const row = await db.update({
            TableName: chatsTable,
            Key: chatKey(chatId),
            UpdateExpression: 'ADD last_seq :n',
            ConditionExpression: 'attribute_exists(chat_id)',
            ExpressionAttributeValues: { ':n': count },
            ReturnValues: 'UPDATED_NEW',
          });
          return Number(row!.last_seq) - count + 1;
        }),
      );
      return new Map(requests.map((r, i) => [r.chatId, firsts[i]]));
    },

    async seed(chatId, atLeast) {
      await appliedIfCondition(
        db.update({
          TableName: chatsTable,
          Key: chatKey(chatId),
          UpdateExpression: 'SET last_seq = :a',
          ConditionExpression: 'attribute_exists(chat_id) AND (attribute_not_exists(last_seq) OR last_seq < :a)',
          ExpressionAttributeValues: { ':a': atLeast },
        }),
      );
    },

    // A range cannot be taken back from a row other instances write to: it stays a hole.
    async release() {},

    // Unknown: callers read the messages themselves.
    async current() {
      return new Map();
    },
  };
}
