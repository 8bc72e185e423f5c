/**
 * Seqs held in this process: for a single instance (no Redis). Starts empty, so
 * every chat is seeded from DynamoDB on its first message after a start.
 */
import type { Sequencer } from '../../domain/messages/ports.js';

export function createMemorySequencer(): Sequencer {
  const counters = new Map<string, number>();
  return {
    async allocate(requests) {
      const firsts = new Map<string, number | undefined>();
      for (const { chatId, count } of requests) {
        const last = counters.get(chatId);
        if (last === undefined) {
          firsts.set(chatId, undefined);
          continue;
        }
        counters.set(chatId, last + count);
        firsts.set(chatId, last + 1);
      }
      return firsts;
    },
    async seed(chatId, atLeast) {
      counters.set(chatId, Math.max(counters.get(chatId) ?? -1, atLeast));
    },
    async release(chatId, last, count) {
      if (counters.get(chatId) === last) counters.set(chatId, last - count);
    },
    async current(chatIds) {
      return new Map(chatIds.map((chatId) => [chatId, counters.get(chatId)]));
    },
  };
}
