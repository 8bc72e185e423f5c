/**
 * Strongly consistent single-item reads gathered into BatchGetItem requests: every
 * read asked for while the event loop is busy with one turn (say, a burst of
 * sockets connecting at once) goes out as one request per table per 100 keys, and
 * reads of the same key waiting together share one answer. A quiet instance waits
 * for nothing extra: the batch leaves at the end of the current turn.
 *
 * Under load the batches grow by themselves: while a table already has
 * `MAX_IN_FLIGHT_PER_TABLE` requests out, new reads wait and leave together as
 * soon as one comes back (as group commit does for writes). A connect storm then
 * costs a few requests of many keys instead of one small request per turn, and a
 * read never joins a request already sent, so it still sees every write that
 * completed before it was asked for. A request that hangs holds reads back for at
 * most `STALLED_REQUEST_MS`.
 */
import type { Row } from './document.js';

type BatchGet = (table: string, keys: readonly Row[], options: { consistent?: boolean }) => Promise<Row[]>;

/** DynamoDB takes at most 100 keys in one BatchGetItem. */
const BATCH_GET_MAX = 100;
/** Requests per table out at once before further reads wait to be sent together. */
const MAX_IN_FLIGHT_PER_TABLE = 2;
/**
 * A request out longer than this stops holding reads back (ms): one stuck on a dead
 * connection waits for the SDK's timeout (10 s, retried), and the reads behind it
 * must not wait with it. DynamoDB answers a BatchGetItem in milliseconds.
 */
const STALLED_REQUEST_MS = 1_000;

interface Waiting {
  key: Row;
  waiters: { resolve(row: Row | undefined): void; reject(err: unknown): void }[];
}

export type BatchedReads = ReturnType<typeof createBatchedReads>;

export function createBatchedReads(db: { batchGet: BatchGet }) {
  /** table -> key identity -> reads not yet sent */
  const pending = new Map<string, Map<string, Waiting>>();
  const inFlight = new Map<string, number>();
  let scheduled = false;
  const identity = (key: Row) => JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)));

  function scheduleFlush() {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  }

  function flush() {
    scheduled = false;
    for (const table of [...pending.keys()]) sendWhatFits(table);
  }

  function sendWhatFits(table: string) {
    const byKey = pending.get(table);
    if (!byKey) return;
    while (byKey.size > 0 && (inFlight.get(table) ?? 0) < MAX_IN_FLIGHT_PER_TABLE) {
      const waiting: Waiting[] = [];
      for (const [id, entry] of byKey) {
        if (waiting.length === BATCH_GET_MAX) break;
        waiting.push(entry);
        byKey.delete(id);
      }
      send(table, waiting);
    }
    if (byKey.size === 0) pending.delete(table);
  }

  function send(table: string, waiting: Waiting[]) {
    inFlight.set(table, (inFlight.get(table) ?? 0) + 1);
    let counted = true;
    const stopCounting = () => {
      if (!counted) return;
      counted = false;
      const left = (inFlight.get(table) ?? 1) - 1;
      if (left > 0) inFlight.set(table, left);
      else inFlight.delete(table);
      // Reads that waited go out at the end of this turn, with whatever the answered callers ask next.
      if (pending.has(table)) scheduleFlush();
    };
    const stalled = setTimeout(stopCounting, STALLED_REQUEST_MS);
    stalled.unref();
    db.batchGet(
      table,
      waiting.map((w) => w.key),
      { consistent: true },
    )
      .then(
        (rows) => {
          const found = new Map<string, Row>();
          const keyNames = Object.keys(waiting[0]!.key);
          for (const row of rows) found.set(identity(Object.fromEntries(keyNames.map((name) => [name, row[name]]))), row);
          for (const w of waiting) for (const waiter of w.waiters) waiter.resolve(found.get(identity(w.key)));
        },
        (err: unknown) => {
          for (const w of waiting) for (const waiter of w.waiters) waiter.reject(err);
        },
      )
      .finally(() => {
        clearTimeout(stalled);
        stopCounting();
      });
  }

  return {
    /** The row at `key` in `table` (undefined when there is none), read consistently. */
    get(table: string, key: Row): Promise<Row | undefined> {
      return new Promise((resolve, reject) => {
        let byKey = pending.get(table);
        if (!byKey) pending.set(table, (byKey = new Map<string, Waiting>()));
        const id = identity(key);
        let entry = byKey.get(id);
        if (!entry) byKey.set(id, (entry = { key, waiters: [] }));
        entry.waiters.push({ resolve, reject });
        scheduleFlush();
      });
    },
  };
}
