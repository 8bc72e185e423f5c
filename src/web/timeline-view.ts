/**
 * The conversation's message list, updated in place: every row (message, day
 * separator, "new messages" line) is keyed; a render adds, moves, refreshes or
 * removes rows and leaves the rest of the DOM alone. It also owns scrolling: it
 * stays at the bottom only while the reader is there, keeps what the reader looks
 * at in place when older pages arrive above, and counts what arrived below.
 */
import { h } from './dom.js';
import { formatDay, formatFullTime, formatTime } from './format.js';
import { linkify } from './linkify.js';
import { dayKey, layoutTimeline, type LayoutRow } from './timeline-layout.js';
import type { DisplayMessage } from './chat-client.js';

/** Closer than this to the bottom counts as "at the bottom". */
const BOTTOM_SLACK_PX = 48;

export interface MessageView {
  /** The message's body (text with links, or a file). */
  body(message: DisplayMessage): Node;
  /** The line under an own message: its state, and Retry/Discard when it failed. */
  status(message: DisplayMessage): Node | null;
  /** Changes whenever `status` would draw something else. */
  statusSignature(message: DisplayMessage): string;
}

export interface RenderInput {
  chatId: string;
  messages: readonly DisplayMessage[];
  firstUnreadSeq: number | null;
  /** Older messages were just added above: keep the view where it is. */
  older: boolean;
}

export function textWithLinks(text: string): Node[] {
  return linkify(text).map((segment) =>
    segment.kind === 'link'
      ? h('a', { href: segment.href, target: '_blank', rel: 'noopener noreferrer nofollow' }, segment.text)
      : document.createTextNode(segment.text),
  );
}

export class TimelineView {
  private renderedChatId: string | null = null;
  private newestSeqShown = 0;
  /** Messages from others that arrived below while the reader was scrolled up. */
  unseenBelow = 0;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly list: HTMLElement,
    private readonly view: MessageView,
    private readonly onUnseenChange: (count: number) => void,
    private readonly announce: (text: string) => void,
  ) {}

  isAtBottom(): boolean {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < BOTTOM_SLACK_PX;
  }

  scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.setUnseen(0);
  }

  /** The reader scrolled: reaching the bottom means everything below has been seen. */
  onScroll(): void {
    if (this.isAtBottom()) this.setUnseen(0);
  }

  clear(): void {
    this.list.replaceChildren();
    this.renderedChatId = null;
    this.newestSeqShown = 0;
    this.setUnseen(0);
  }

  render({ chatId, messages, firstUnreadSeq, older }: RenderInput): void {
    const switched = this.renderedChatId !== chatId;
    if (switched) {
      this.list.replaceChildren();
      this.newestSeqShown = 0;
      this.setUnseen(0);
    }
    this.renderedChatId = chatId;
    const wasAtBottom = this.isAtBottom();
    const anchor = older ? this.visibleAnchor() : null;
    const anchorTop = anchor?.getBoundingClientRect().top ?? 0;

    const layout = layoutTimeline(
      messages.map((m) => ({ key: m.key, senderId: m.senderId, seq: m.seq, createdAt: m.createdAt })),
      firstUnreadSeq,
    );
    const existing = new Map<string, HTMLElement>();
    for (const child of this.list.children) if (child instanceof HTMLElement && child.dataset.key) existing.set(child.dataset.key, child);
    const wanted = new Set<string>();
    let cursor = this.list.firstElementChild;
    const place = (row: HTMLElement) => {
      wanted.add(row.dataset.key!);
      if (row === cursor) cursor = cursor.nextElementSibling;
      else this.list.insertBefore(row, cursor);
    };

    let ownAdded = false;
    const arrivedFromOthers: DisplayMessage[] = [];
    const previousNewest = this.newestSeqShown;
    messages.forEach((message, index) => {
      const row = layout[index]!;
      if (row.dayStart) place(existing.get(`day:${dayKey(message.createdAt)}`) ?? this.daySeparator(message.createdAt));
      if (row.firstUnread)
        place(existing.get('unread') ?? h('li', { class: 'unread-line', dataset: { key: 'unread' } }, h('span', {}, 'New messages')));
      let element = existing.get(message.key);
      if (!element) {
        element = h('li', { dataset: { key: message.key } });
        this.fill(element, message, row);
        if (message.mine) ownAdded = true;
        else if (!switched && !older && message.seq !== null && message.seq > previousNewest) arrivedFromOthers.push(message);
      } else if (element.dataset.sig !== this.signature(message, row)) {
        this.fill(element, message, row);
      }
      place(element);
      if (message.seq !== null) this.newestSeqShown = Math.max(this.newestSeqShown, message.seq);
    });
    for (const child of [...this.list.children]) if (child instanceof HTMLElement && !wanted.has(child.dataset.key ?? '')) child.remove();

    if (older && anchor) {
      this.scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    } else if (switched) {
      const line = this.list.querySelector<HTMLElement>('.unread-line');
      if (line) line.scrollIntoView({ block: 'start' });
      else this.scrollToBottom();
    } else if (wasAtBottom || ownAdded) {
      this.scrollToBottom();
    } else if (arrivedFromOthers.length > 0) {
      this.setUnseen(this.unseenBelow + arrivedFromOthers.length);
    }
    for (const message of arrivedFromOthers) {
      this.announce(`${message.senderName}: ${message.kind === 'file' ? `sent ${message.file?.name ?? 'a file'}` : (message.text ?? '')}`);
    }
  }

  private setUnseen(count: number): void {
    if (count === this.unseenBelow) return;
    this.unseenBelow = count;
    this.onUnseenChange(count);
  }

  /** The first message row whose bottom is inside the view: what the reader is looking at. */
  private visibleAnchor(): HTMLElement | null {
    const top = this.scroller.getBoundingClientRect().top;
    for (const child of this.list.children) {
      if (child instanceof HTMLElement && child.classList.contains('message') && child.getBoundingClientRect().bottom > top) return child;
    }
    return null;
  }

  private daySeparator(epochMs: number): HTMLElement {
    return h('li', { class: 'day-separator', dataset: { key: `day:${dayKey(epochMs)}` } }, h('span', {}, formatDay(epochMs)));
  }

  private signature(message: DisplayMessage, row: LayoutRow): string {
    return `${row.groupStart}|${message.senderName}|${message.file?.key ?? ''}|${this.view.statusSignature(message)}`;
  }

  private fill(element: HTMLElement, message: DisplayMessage, row: LayoutRow): void {
    element.dataset.sig = this.signature(message, row);
    element.className = `message ${message.mine ? 'mine' : 'theirs'} status-${message.status}${row.groupStart ? ' group-start' : ''}`;
    const when = message.createdAt;
    const time = h('time', { datetime: new Date(when).toISOString(), title: formatFullTime(when) }, formatTime(when));
    const meta = row.groupStart
      ? h('p', { class: 'meta' }, h('span', { class: 'author' }, message.mine ? 'You' : message.senderName), ' ', time)
      : // Within a group the author is the one above; the time still shows on hover and focus.
        h(
          'p',
          { class: 'meta continuation' },
          h('span', { class: 'visually-hidden author' }, message.mine ? 'You' : message.senderName),
          time,
        );
    element.replaceChildren(...[meta, this.view.body(message), this.view.status(message)].filter((node): node is Node => node !== null));
  }
}
