/**
 * Loaded into a server under measurement by `npm run bench:idle` (node --expose-gc
 * --import heap-probe.mjs): on SIGWINCH (a signal no server here acts on; huddle's
 * graceful shutdown listens to SIGUSR2) it collects garbage (twice: the first pass can
 * leave what finalizers free) and writes `process.memoryUsage()` and V8's committed
 * size per heap space (where RSS beyond the live heap sits: a grown young generation,
 * compiled code) as JSON to $HEAP_PROBE_FILE. The same probe goes into every server compared, so it costs each
 * the same few kilobytes.
 */
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const file = process.env.HEAP_PROBE_FILE;
const collect = (globalThis as { gc?: () => void }).gc;
if (file) {
  process.on('SIGWINCH', () => {
    collect?.();
    collect?.();
    const usage = process.memoryUsage();
    // HEAP_SNAPSHOT_DIR (bench:idle --snapshots): a heap snapshot too, to see what each connection holds.
    const snapshot = process.env.HEAP_SNAPSHOT_DIR
      ? writeHeapSnapshot(`${process.env.HEAP_SNAPSHOT_DIR}/${Date.now()}.heapsnapshot`)
      : undefined;
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, space.physical_space_size]));
    writeFileSync(file, JSON.stringify({ ...usage, spaces, collected: Boolean(collect), snapshot, at: Date.now() }));
  });
}
