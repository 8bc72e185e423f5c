/**
 * Whether this instance should get traffic, as the load balancer asks it on
 * `/healthz`: not while it drains, and not while its event loop stalls. A stalled
 * loop answers late or not at all, so every socket on it suffers; taking it out
 * lets the load balancer send new connections elsewhere. Dependencies are not part
 * of this: a Redis or DynamoDB blip would fail every instance at once.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The delay histogram is read over windows of this length; the verdict covers the
 * current window and the previous one, so one long pause fails at most two of the
 * load balancer's checks (10 s apart) and never the three in a row that remove a target.
 */
const WINDOW_MS = 10_000;
const SAMPLE_RESOLUTION_MS = 20;

export type ServingVerdict =
  { serving: true } | { serving: false; reason: 'draining' } | { serving: false; reason: 'event_loop_stalled'; eventLoopDelayMs: number };

export interface ServingHealthOptions {
  /** Longest event-loop delay (ms) that still counts as serving. */
  stallThresholdMs: number;
  windowMs?: number;
}

export class ServingHealth {
  private readonly histogram: IntervalHistogram;
  private readonly rotation: NodeJS.Timeout;
  private previousWindowMaxMs = 0;
  private drainingSince: number | undefined;

  constructor(private readonly options: ServingHealthOptions) {
    this.histogram = monitorEventLoopDelay({ resolution: SAMPLE_RESOLUTION_MS });
    this.histogram.enable();
    this.rotation = setInterval(() => {
      this.previousWindowMaxMs = this.currentWindowMaxMs();
      this.histogram.reset();
    }, options.windowMs ?? WINDOW_MS);
    this.rotation.unref();
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(now = Date.now()): void {
    this.drainingSince ??= now;
  }

  /** The longest event-loop delay seen in the current and the previous window, in ms. */
  recentEventLoopDelayMs(): number {
    return Math.max(this.previousWindowMaxMs, this.currentWindowMaxMs());
  }

  verdict(): ServingVerdict {
    if (this.draining) return { serving: false, reason: 'draining' };
    const eventLoopDelayMs = Math.round(this.recentEventLoopDelayMs());
    if (eventLoopDelayMs > this.options.stallThresholdMs) return { serving: false, reason: 'event_loop_stalled', eventLoopDelayMs };
    return { serving: true };
  }

  close(): void {
    clearInterval(this.rotation);
    this.histogram.disable();
  }

  private currentWindowMaxMs(): number {
    // An empty histogram reports 0 as its max.
    return this.histogram.max / 1e6;
  }
}
