/**
 * One chat's messages, kept by seq, with a small reorder buffer.
 *
 * `lastSeq` is the highest seq up to which the chat is known to be complete: every
 * seq at or below it is either held here or confirmed missing by the server. Only
 * those messages are shown. A message above `lastSeq + 1` is held back, so the page
 * never shows N+1 as the latest message and forgets N; if the gap is still open
 * after `gapWaitMs`, `onGap(lastSeq)` asks the caller to sync from there.
 *
 * Until the first history page arrives (`lastSeq === null`) the chat has no base:
 * live messages are kept but not shown, and no gap is chased.
 */
import { realTimers, type TimerId, type Timers } from './timers.js';
import type { Message } from './wire.js';

export interface ChatTimelineOptions {
  onGap: (lastSeq: number) => void;
  gapWaitMs?: number;
  timers?: Timers;
}

export class ChatTimeline {
  private readonly onGap: (lastSeq: number) => void;
  private readonly gapWaitMs: number;
  private readonly timers: Timers;
  /** Every message known, shown or held. */
  readonly bySeq = new Map<number, Message>();
  lastSeq: number | null = null;
  hasMore = true;
  private gapTimer: TimerId | null = null;

  constructor({ onGap, gapWaitMs = 1000, timers = realTimers }: ChatTimelineOptions) {
    this.onGap = onGap;
    this.gapWaitMs = gapWaitMs;
    this.timers = timers;
  }

  get loaded(): boolean {
    return this.lastSeq !== null;
  }

  /** Adds a live or synced message; returns false when that seq is already known. */
  add(message: Message): boolean {
    if (this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    this.advance();
    return true;
  }

  /**
   * Puts the server's copy of a held message in its place (the copy built from our own
   * ack lacks what only the server knows, such as a stored file's key). False when not held.
   */
  replace(message: Message): boolean {
    if (!this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    return true;
  }

  /** The newest page of history: it becomes the base the chat is complete from. */
  setBase(messages: readonly Message[], hasMore: boolean): void {
    for (const message of messages) if (!this.bySeq.has(message.seq)) this.bySeq.set(message.seq, message);
    const newest = messages.at(-1)?.seq ?? 0;
    this.lastSeq = Math.max(this.lastSeq ?? 0, newest);
    this.hasMore = hasMore;
    this.advance();
  }

  /** An older page (below what is shown); returns how many messages were new. */
  addOlder(messages: readonly Message[], hasMore: boolean): number {
    let added = 0;
    for (const message of messages) {
      if (this.bySeq.has(message.seq)) continue;
      this.bySeq.set(message.seq, message);
      added += 1;
    }
    this.hasMore = hasMore;
    this.advance();
    return added;
  }

  /**
   * The server answered a sync: nothing exists between our `lastSeq` and its
   * `serverLastSeq` except what it sent, so what is still missing there is a hole
   * (a seq allocated and never written), not something to wait for.
   */
  acceptThrough(serverLastSeq: number): void {
    if (this.lastSeq === null) return;
    if (serverLastSeq > this.lastSeq) this.lastSeq = serverLastSeq;
    this.advance();
  }

  /** Forgets everything (the chat is reloaded from history). */
  reset(): void {
    this.cancelGapTimer();
    this.bySeq.clear();
    this.lastSeq = null;
    this.hasMore = true;
  }

  /** Messages to show, ascending by seq. */
  shown(): Message[] {
    const lastSeq = this.lastSeq;
    if (lastSeq === null) return [];
    const seqs = [...this.bySeq.keys()].filter((seq) => seq <= lastSeq).sort((a, b) => a - b);
    return seqs.map((seq) => this.bySeq.get(seq)!);
  }

  /** The lowest seq shown: the `before` cursor of the next older page. */
  oldestSeq(): number | null {
    let oldest: number | null = null;
    for (const seq of this.bySeq.keys()) {
      if (this.lastSeq !== null && seq <= this.lastSeq && (oldest === null || seq < oldest)) oldest = seq;
    }
    return oldest;
  }

  /** How many messages wait above a gap. */
  heldCount(): number {
    if (this.lastSeq === null) return this.bySeq.size;
    let held = 0;
    for (const seq of this.bySeq.keys()) if (seq > this.lastSeq) held += 1;
    return held;
  }

  dispose(): void {
    this.cancelGapTimer();
  }

  private advance(): void {
    if (this.lastSeq === null) return;
    while (this.bySeq.has(this.lastSeq + 1)) this.lastSeq += 1;
    if (this.heldCount() > 0) this.startGapTimer();
    else this.cancelGapTimer();
  }

  private startGapTimer(): void {
    if (this.gapTimer !== null) return;
    this.gapTimer = this.timers.setTimeout(() => {
      this.gapTimer = null;
      if (this.lastSeq !== null && this.heldCount() > 0) this.onGap(this.lastSeq);
    }, this.gapWaitMs);
  }

  private cancelGapTimer(): void {
    if (this.gapTimer === null) return;
    this.timers.clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }
}
