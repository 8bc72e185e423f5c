/**
 * Strongly consistent single-item reads gathered into BatchGetItem requests: every
 * read asked for while the event loop is busy with one turn (say, a burst of
 * sockets connecting at once) goes out as one request per table per 100 keys, and
 * reads of the same key share one answer. A quiet instance waits for nothing
 * extra: the batch leaves at the end of the current turn.
 */
import type { Row } from './document.js';

type BatchGet = (table: string, keys: readonly Row[], options: { consistent?: boolean }) => Promise<Row[]>;

interface Waiting {
  key: Row;
  waiters: { resolve(row: Row | undefined): void; reject(err: unknown): void }[];
}

export type BatchedReads = ReturnType<typeof createBatchedReads>;

export function createBatchedReads(db: { batchGet: BatchGet }) {
  /** table -> key identity -> waiting reads */
  let pending = new Map<string, Map<string, Waiting>>();
  let scheduled = false;
  const identity = (key: Row) => JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)));

  function flush() {
    scheduled = false;
    const tables = pending;
    pending = new Map();
    for (const [table, byKey] of tables) {
      const waiting = [...byKey.values()];
      db.batchGet(
        table,
        waiting.map((w) => w.key),
        { consistent: true },
      ).then(
        (rows) => {
          const found = new Map<string, Row>();
          const keyNames = Object.keys(waiting[0]!.key);
          for (const row of rows) found.set(identity(Object.fromEntries(keyNames.map((name) => [name, row[name]]))), row);
          for (const w of waiting) for (const waiter of w.waiters) waiter.resolve(found.get(identity(w.key)));
        },
        (err: unknown) => {
          for (const w of waiting) for (const waiter of w.waiters) waiter.reject(err);
        },
      );
    }
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
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
