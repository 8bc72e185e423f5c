/**
 * Where the timeline's furniture goes, decided without the DOM: which messages start
 * a group (author and time shown once), where a day separator goes, and where the
 * "new messages" line goes. The view draws what this returns.
 */

/** Messages from one sender closer together than this share one heading. */
export const GROUP_WINDOW_MS = 5 * 60 * 1000;

export interface LayoutInput {
  key: string;
  senderId: string;
  seq: number | null;
  createdAt: number;
}

export interface LayoutRow {
  key: string;
  /** Set on the first message of a calendar day (local time): the day separator goes above it. */
  dayStart: boolean;
  /** The first message of a run from one sender: it shows the author and the time. */
  groupStart: boolean;
  /** The "new messages" line goes above this one. */
  firstUnread: boolean;
}

/** The local calendar day of a time, as a comparable key. */
export function dayKey(epochMs: number): string {
  const date = new Date(epochMs);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function layoutTimeline(messages: readonly LayoutInput[], firstUnreadSeq: number | null): LayoutRow[] {
  let previous: LayoutInput | undefined;
  return messages.map((message) => {
    const dayStart = !previous || dayKey(previous.createdAt) !== dayKey(message.createdAt);
    const firstUnread = firstUnreadSeq !== null && message.seq === firstUnreadSeq;
    const groupStart =
      dayStart ||
      firstUnread ||
      !previous ||
      previous.senderId !== message.senderId ||
      message.createdAt - previous.createdAt > GROUP_WINDOW_MS ||
      message.createdAt < previous.createdAt;
    previous = message;
    return { key: message.key, dayStart, groupStart, firstUnread };
  });
}
