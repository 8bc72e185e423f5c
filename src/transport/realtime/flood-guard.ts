/**
 * How many frames one socket may send, and what happens past it.
 *
 * Frames are admitted from a token bucket (a burst, then a steady rate). A refused
 * frame is answered at most once per `noticeIntervalMs`: a flood of frames must not
 * become a flood of error frames. Refusals are counted over a sliding window of
 * `windowMs`, which admitted frames do not reset, so a client cannot stay just
 * under the close threshold by slipping in one admitted frame now and then; past
 * `closeAfterRefused` refusals in the window the socket is closed (4009).
 */

export interface FloodLimits {
  burst: number;
  perSecond: number;
  closeAfterRefused: number;
  windowMs: number;
  noticeIntervalMs: number;
}

export const FLOOD_LIMITS: FloodLimits = { burst: 40, perSecond: 20, closeAfterRefused: 200, windowMs: 10_000, noticeIntervalMs: 1_000 };

/** `admit`: handle it; `refuse`: drop it and tell the client; `drop`: drop it silently; `close`: close the socket. */
export type FloodVerdict = 'admit' | 'refuse' | 'drop' | 'close';

/** Slots of the sliding window: refusals are counted per slot and old slots fall away. */
const SLOTS = 10;

export class FloodGuard {
  private tokens: number;
  private refilledAt: number | undefined;
  private lastNoticeAt = -Infinity;
  private readonly refusedPerSlot = new Array<number>(SLOTS).fill(0);
  private currentSlot: number | undefined;

  constructor(private readonly limits: FloodLimits = FLOOD_LIMITS) {
    this.tokens = limits.burst;
  }

  check(now: number): FloodVerdict {
    const { limits } = this;
    this.tokens = Math.min(limits.burst, this.tokens + ((now - (this.refilledAt ?? now)) / 1000) * limits.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'admit';
    }
    if (this.countRefusal(now) > limits.closeAfterRefused) return 'close';
    if (now - this.lastNoticeAt < limits.noticeIntervalMs) return 'drop';
    this.lastNoticeAt = now;
    return 'refuse';
  }

  /** Adds one refusal at `now` and returns the refusals within the window. */
  private countRefusal(now: number): number {
    const slotMs = this.limits.windowMs / SLOTS;
    const slot = Math.floor(now / slotMs);
    if (this.currentSlot === undefined || slot - this.currentSlot >= SLOTS) {
      this.refusedPerSlot.fill(0);
    } else {
      for (let s = this.currentSlot + 1; s <= slot; s++) this.refusedPerSlot[s % SLOTS] = 0;
    }
    this.currentSlot = slot;
    this.refusedPerSlot[slot % SLOTS]! += 1;
    return this.refusedPerSlot.reduce((sum, n) => sum + n, 0);
  }
}
