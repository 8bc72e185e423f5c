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
const realTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

export class ChatTimeline {
  /**
   * @param {{ onGap: (lastSeq: number) => void, gapWaitMs?: number, timers?: { setTimeout: Function, clearTimeout: Function } }} options
   */
  constructor({ onGap, gapWaitMs = 1000, timers = realTimers }) {
    this.onGap = onGap;
    this.gapWaitMs = gapWaitMs;
    this.timers = timers;
    /** @type {Map<number, any>} every message known, shown or held */
    this.bySeq = new Map();
    /** @type {number | null} */
    this.lastSeq = null;
    this.hasMore = true;
    this.gapTimer = null;
  }

  get loaded() {
    return this.lastSeq !== null;
  }

  /** Adds a live or synced message; returns false when that seq is already known. */
  add(message) {
    if (this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    this.advance();
    return true;
  }

  /** The newest page of history: it becomes the base the chat is complete from. */
  setBase(messages, hasMore) {
    for (const message of messages) if (!this.bySeq.has(message.seq)) this.bySeq.set(message.seq, message);
    const newest = messages.length > 0 ? messages[messages.length - 1].seq : 0;
    this.lastSeq = Math.max(this.lastSeq ?? 0, newest);
    this.hasMore = hasMore;
    this.advance();
  }

  /** An older page (below what is shown); returns how many messages were new. */
  addOlder(messages, hasMore) {
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
  acceptThrough(serverLastSeq) {
    if (this.lastSeq === null) return;
    if (serverLastSeq > this.lastSeq) this.lastSeq = serverLastSeq;
    this.advance();
  }

  /** Forgets everything (the chat is reloaded from history). */
  reset() {
    this.cancelGapTimer();
    this.bySeq.clear();
    this.lastSeq = null;
    this.hasMore = true;
  }

  /** Messages to show, ascending by seq. */
  shown() {
    if (this.lastSeq === null) return [];
    const seqs = [...this.bySeq.keys()].filter((seq) => seq <= this.lastSeq).sort((a, b) => a - b);
    return seqs.map((seq) => this.bySeq.get(seq));
  }

  /** The lowest seq shown: the `before` cursor of the next older page. */
  oldestSeq() {
    let oldest = null;
    for (const seq of this.bySeq.keys()) {
      if (this.lastSeq !== null && seq <= this.lastSeq && (oldest === null || seq < oldest)) oldest = seq;
    }
    return oldest;
  }

  /** How many messages wait above a gap. */
  heldCount() {
    if (this.lastSeq === null) return this.bySeq.size;
    let held = 0;
    for (const seq of this.bySeq.keys()) if (seq > this.lastSeq) held += 1;
    return held;
  }

  dispose() {
    this.cancelGapTimer();
  }

  advance() {
    if (this.lastSeq === null) return;
    while (this.bySeq.has(this.lastSeq + 1)) this.lastSeq += 1;
    if (this.heldCount() > 0) this.startGapTimer();
    else this.cancelGapTimer();
  }

  startGapTimer() {
    if (this.gapTimer !== null) return;
    this.gapTimer = this.timers.setTimeout(() => {
      this.gapTimer = null;
      if (this.lastSeq !== null && this.heldCount() > 0) this.onGap(this.lastSeq);
    }, this.gapWaitMs);
  }

  cancelGapTimer() {
    if (this.gapTimer === null) return;
    this.timers.clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }
}
