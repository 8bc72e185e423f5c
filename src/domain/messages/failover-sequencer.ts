/**
 * A sequencer that keeps working when its primary (Redis) cannot be reached, by
 * asking a fallback (the chat rows in DynamoDB) meanwhile. Mixing the two is safe
 * because neither is trusted alone: the message log refuses a seq already stored,
 * and the writer then seeds the counter past what is stored (see `Sequencer`).
 */
import type { Logger } from '../logger.js';
import type { Sequencer } from './ports.js';

/** At most one warning per this many ms while the primary stays away. */
const WARN_EVERY_MS = 10_000;

export function createFailoverSequencer(primary: Sequencer, fallback: Sequencer, logger: Pick<Logger, 'warn'>): Sequencer {
  let warnedAt = 0;
  function onPrimaryFailure(err: unknown) {
    const now = Date.now();
    if (now - warnedAt < WARN_EVERY_MS) return;
    warnedAt = now;
    logger.warn({ err }, 'the shared sequencer cannot be reached; allocating seqs from DynamoDB meanwhile');
  }
  async function either<T>(use: (s: Sequencer) => Promise<T>): Promise<T> {
    try {
      return await use(primary);
    } catch (err) {
      onPrimaryFailure(err);
      return use(fallback);
    }
  }
  return {
    allocate: (requests) => either((s) => s.allocate(requests)),
    seed: (chatId, atLeast) => either((s) => s.seed(chatId, atLeast)),
    release: (chatId, last, count) => either((s) => s.release(chatId, last, count)),
    current: (chatIds) => either((s) => s.current(chatIds)),
  };
}
