/**
 * Latencies of a long run in constant memory: counts in 0.1 ms buckets up to 60 s
 * (a slower one lands in the last bucket; the maximum is kept exactly), so a
 * percentile "so far" can be read every half second without sorting millions of
 * samples.
 */
const BUCKET_MS = 0.1;
const BUCKETS = 600_000;

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  record(ms: number): void {
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms / BUCKET_MS)));
    this.counts[bucket]! += 1;
    this.count += 1;
    if (ms > this.max) this.max = ms;
  }

  /** The smallest latency (to the bucket's upper edge) at or under which p% of the samples fall; NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      // The last bucket holds everything slower than its edge: only the maximum says how slow.
      if (seen >= rank) return bucket === BUCKETS - 1 ? this.max : Math.min(this.max, (bucket + 1) * BUCKET_MS);
    }
    return this.max;
  }

  summary(): LatencySummary {
    const round = (n: number) => (Number.isNaN(n) ? n : +n.toFixed(1));
    return {
      count: this.count,
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.max),
    };
  }
}
