/**
 * The local stand-in for the bucket's lifecycle rule on `pending/`: deletes uploads
 * that were never sent once they are older than `olderThanMs`. On AWS the rule does
 * this (see docs/files-and-quotas.md) and no sweeper runs.
 *
 * Several local instances may each run one: deleting an object twice is harmless.
 * Choose `olderThanMs` above the upload URL's lifetime, so an upload being sent right
 * now is never taken from under its sender.
 */
import type { Logger } from '../logger.js';
import type { BlobStore } from './ports.js';
import { PENDING_PREFIX } from './file-policy.js';

export interface PendingSweeperOptions {
  blob: BlobStore;
  /** Uploads older than this are removed. @default none: pick one above the upload lifetime (e.g. 15 min). */
  olderThanMs: number;
  /** Time between sweeps. */
  intervalMs: number;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** Epoch milliseconds. @default Date.now */
  clock?: () => number;
}

export interface PendingSweeper {
  /** Sweeps once now, then every `intervalMs`, until `stop`. */
  start(): void;
  /** Stops, waiting for a sweep in progress. */
  stop(): Promise<void>;
  /** One sweep; resolves to the number of objects deleted. */
  sweepOnce(): Promise<number>;
}

export function createPendingSweeper(options: PendingSweeperOptions): PendingSweeper {
  const { blob, olderThanMs, intervalMs, logger } = options;
  const clock = options.clock ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let inProgress: Promise<unknown> | undefined;

  async function sweepOnce(): Promise<number> {
    const cutoff = clock() - olderThanMs;
    let deleted = 0;
    for await (const object of blob.list(PENDING_PREFIX)) {
      if (object.lastModified >= cutoff) continue;
      await blob.delete(object.key);
      deleted++;
    }
    if (deleted > 0) logger.info({ deleted }, 'removed uploads that were never sent');
    return deleted;
  }

  function tick(): void {
    if (inProgress) return;
    inProgress = sweepOnce()
      .catch((err: unknown) => logger.warn({ err }, 'sweeping unsent uploads failed; trying again later'))
      .finally(() => {
        inProgress = undefined;
      });
  }

  return {
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, intervalMs);
      // The sweeper never keeps the process alive on its own.
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await inProgress;
    },
    sweepOnce,
  };
}
