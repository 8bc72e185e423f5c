/**
 * The page's protocol logic, with no DOM: one WebSocket, the chats and their
 * messages, the outbox, typing, receipts and presence. The page (app.js) renders
 * what this holds and calls its methods; it listens with `on(event, fn)`:
 *
 *   connection  the connection state changed (`connection`: connecting | online | offline | signed-out | stopped)
 *   me, quota, presence, chats        what their names say changed
 *   messages    (chatId, { older })   the messages or outbox of one chat changed
 *   typing      (chatId)              who is typing in a chat changed
 *   chat-removed (chatId)             the user left or was removed
 *   unknown-chat (chatId)             a message came for a chat with no summary: refresh the list
 *   connect-failed ({ attempt })      a socket closed before opening (maybe signed out: check /api/me)
 *   notice      ({ code, message })   an error to show that belongs to no message
 *
 * How it recovers from what the network and the bus lose is described in docs/client.md.
 */
import { CloseCode, isTerminalClose } from '../shared/close-codes.js';
import { previewOf } from '../shared/preview.js';
import { SYNC_MAX_CHATS } from '../shared/frames.js';
import { ChatTimeline } from './reorder-buffer.js';
import { Outbox, newClientMsgId, type OutboxContent, type OutboxEntry } from './outbox.js';
import { realTimers, type TimerId, type Timers } from './timers.js';
import type {
  ChatSummary,
  ClientFrame,
  ClientLimits,
  ErrorInfo,
  FileInfo,
  Member,
  Message,
  PublicUser,
  QuotaSummary,
  ServerFrame,
} from './wire.js';

export { isTerminalClose };

export const defaultSettings = Object.freeze({
  /** How long a message above a gap is held before asking the server to sync. */
  gapWaitMs: 1000,
  pingIntervalMs: 20_000,
  /** A ping unanswered this long means the link is dead, whatever the socket says. */
  pongTimeoutMs: 10_000,
  /**
   * The first retry is drawn from [0, this): when a load balancer or a draining instance
   * cuts every page at once, they come back spread over this window, not in one burst.
   */
  reconnectBaseMs: 1000,
  reconnectMaxMs: 10_000,
  /**
   * At most one `typing` per this long. The server drops typing frames closer than
   * 2 s apart by its own clock; the margin keeps network jitter from making it drop ours.
   */
  typingSendIntervalMs: 2200,
  typingShowMs: 5000,
  readThrottleMs: 1000,
  historyPageSize: 50,
});

export type Settings = { -readonly [K in keyof typeof defaultSettings]: number };

/** The parts of a browser WebSocket the client uses. */
export interface SocketLike {
  onopen: ((event?: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event?: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type ConnectionState = 'idle' | 'connecting' | 'online' | 'offline' | 'signed-out' | 'stopped';

export const SESSION_ENDED = CloseCode.sessionEnded;

interface TypingEntry {
  username: string;
  timer: TimerId;
}

export interface ChatState {
  chatId: string;
  summary: ChatSummary;
  timeline: ChatTimeline;
  /** Which history request is out, if any. */
  loading: 'latest' | 'older' | null;
  /** The newest page is wanted (the chat was opened, or reset) and has not arrived. */
  wantsBase: boolean;
  /** The reader's read position when the chat was last opened: where the "new messages" line goes. */
  readSeqAtOpen: number | null;
  typing: Map<string, TypingEntry>;
  typingSentAt: number;
  typingTimer: TimerId | null;
  readSent: number;
  readPending: number;
  readTimer: TimerId | null;
}

export type MessageStatus = 'delivered' | 'uploading' | 'pending' | 'sent' | 'failed';

export interface DisplayMessage {
  /** Stable across pending -> sent -> delivered, so the page updates one element in place. */
  key: string;
  clientMsgId?: string | undefined;
  seq: number | null;
  senderId: string;
  senderName: string;
  mine: boolean;
  kind: 'text' | 'file';
  text?: string | undefined;
  file?: Partial<FileInfo> | undefined;
  createdAt: number;
  status: MessageStatus;
  error: ErrorInfo | null;
  /** While uploading: the fraction of the file sent so far. */
  progress?: number | null | undefined;
  /** A failed message Retry can send again (a file that never reached the store cannot be). */
  retryable?: boolean | undefined;
}

export interface ClientEvents {
  connection: [state: ConnectionState];
  me: [me: PublicUser | null];
  quota: [quota: QuotaSummary | null];
  presence: [userId?: string];
  chats: [];
  messages: [chatId: string, change: { older: boolean }];
  typing: [chatId: string];
  'chat-removed': [chatId: string];
  'unknown-chat': [chatId: string];
  'connect-failed': [info: { attempt: number }];
  notice: [notice: { code: string; message: string }];
  'signed-out': [];
}

type Listener<K extends keyof ClientEvents> = (...args: ClientEvents[K]) => void;

/**
 * How long to wait before reconnect attempt `attempt` (0 for the first after a close).
 *
 * The first retry uses full jitter over [0, base): a cut that drops a whole fleet of pages
 * at once (a load balancer, an instance going away) is the common reason for a close, and
 * the pages must not all return in the same instant. Later retries take the upper half of
 * `min(max, base × 2^attempt)`, so a page that keeps failing waits longer each time, while
 * its neighbours stay spread out. The windows follow each other: [0, 1), [1, 2], [2, 4] s…
 */
export function reconnectDelay(
  attempt: number,
  { reconnectBaseMs, reconnectMaxMs }: Pick<Settings, 'reconnectBaseMs' | 'reconnectMaxMs'>,
  random: () => number = Math.random,
): number {
  if (attempt <= 0) return Math.floor(random() * Math.min(reconnectBaseMs, reconnectMaxMs));
  const ceiling = Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function formatWhen(epochMs: number, now = Date.now()): string {
  const when = new Date(epochMs);
  const time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return when.toDateString() === new Date(now).toDateString() ? `at ${time}` : `on ${when.toLocaleDateString()} at ${time}`;
}

/** The sentence shown under a message the server refused. */
export function describeSendError(error: ErrorInfo | null | undefined, now = Date.now()): string {
  const details = error?.details ?? {};
  if (error?.code === 'quota_exceeded' && typeof details.resetsAt === 'number') {
    const limit = typeof details.limit === 'number' ? `${details.limit} ` : '';
    return `Daily limit of ${limit}messages reached. You can send again ${formatWhen(details.resetsAt, now)}.`;
  }
  return error?.message || 'Not sent';
}

export interface ChatClientOptions {
  url: string;
  createSocket?: (url: string) => SocketLike;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  newClientMsgId?: () => string;
  settings?: Partial<Settings>;
}

function messageKey(message: { clientMsgId?: string | undefined; senderId: string; seq: number | null }): string {
  return message.clientMsgId ? `c:${message.senderId}:${message.clientMsgId}` : `s:${message.seq}`;
}

function placeholderSummary(chatId: string): ChatSummary {
  return {
    chatId,
    kind: 'group',
    title: 'New chat',
    createdBy: '',
    members: [],
    lastSeq: 0,
    readSeq: 0,
    unread: 0,
    readPositions: {},
    updatedAt: 0,
  };
}

export class ChatClient {
  readonly url: string;
  readonly settings: Settings;
  readonly outbox: Outbox;
  readonly chats = new Map<string, ChatState>();
  readonly presence = new Map<string, boolean>();
  me: PublicUser | null = null;
  quota: QuotaSummary | null = null;
  /** What the deployment enforces, from `hello`; null until the first one. */
  limits: ClientLimits | null = null;
  activeChatId: string | null = null;
  connection: ConnectionState = 'idle';
  attempt = 0;
  /** When the next reconnect attempt starts (epoch ms), while offline. */
  nextAttemptAt: number | null = null;

  private readonly createSocket: (url: string) => SocketLike;
  private readonly timers: Timers;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly listeners = new Map<keyof ClientEvents, Set<(...args: never[]) => void>>();
  private visible = true;
  private socket: SocketLike | null = null;
  private opened = false;
  private ready = false;
  private stopped = false;
  private reconnectTimer: TimerId | null = null;
  private pingTimer: TimerId | null = null;
  private pongTimer: TimerId | null = null;
  private frameCounter = 0;
  private readonly pendingHistory = new Map<string, { chatId: string; kind: 'latest' | 'older' }>();

  constructor(options: ChatClientOptions) {
    this.url = options.url;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
    this.timers = options.timers ?? realTimers;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.settings = { ...defaultSettings, ...options.settings };
    this.outbox = new Outbox({ newId: options.newClientMsgId ?? newClientMsgId, now: this.now });
  }

  // ---------- events ----------

  on<K extends keyof ClientEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (...args: never[]) => void);
    return () => set.delete(listener as (...args: never[]) => void);
  }

  private emit<K extends keyof ClientEvents>(type: K, ...args: ClientEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        (listener as Listener<K>)(...args);
      } catch (err) {
        // A broken listener must not stop frame processing; rethrow outside it so it still surfaces.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // ---------- connection ----------

  start(): void {
    this.stopped = false;
    if (this.socket) return;
    this.connect();
  }

  /** Closes for good (sign-out, page leaving). */
  stop(): void {
    this.stopped = true;
    this.clearReconnectTimer();
    const socket = this.detachSocket();
    try {
      socket?.close(CloseCode.normal, 'bye');
    } catch {
      // already closed
    }
    this.setConnection('stopped');
  }

  /** Skips the backoff wait (the browser came back online, the tab became visible). */
  reconnectNow(): void {
    if (this.connection !== 'offline' || this.stopped) return;
    this.clearReconnectTimer();
    this.connect();
  }

  private connect(): void {
    this.clearReconnectTimer();
    this.setConnection('connecting');
    let socket: SocketLike;
    try {
      socket = this.createSocket(this.url);
    } catch {
      this.onClosed(1006, false);
      return;
    }
    this.socket = socket;
    this.opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.opened = true;
      this.schedulePing();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.onText(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      const wasOpen = this.opened;
      this.detachSocket();
      this.onClosed(event.code, wasOpen);
    };
    // Every error is followed by a close event, which does the work.
    socket.onerror = () => {};
  }

  private detachSocket(): SocketLike | null {
    const socket = this.socket;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
    }
    this.socket = null;
    this.opened = false;
    this.ready = false;
    this.stopHeartbeat();
    // Answers to requests made on the old socket will never come; the next hello asks again.
    this.pendingHistory.clear();
    for (const chat of this.chats.values()) chat.loading = null;
    return socket;
  }

  /**
   * 4501 ends the session: sign in again. Other terminal codes stop. Everything else,
   * an abrupt close (1006) and a draining server (1001, 1012) included, reconnects and syncs.
   */
  private onClosed(code: number, wasOpen: boolean): void {
    if (this.stopped) return;
    if (code === CloseCode.sessionEnded) {
      this.stopped = true;
      this.setConnection('signed-out');
      this.emit('signed-out');
      return;
    }
    if (isTerminalClose(code)) {
      this.stopped = true;
      this.setConnection('stopped');
      this.emit('notice', { code: 'closed', message: 'The server closed the connection; reload the page to reconnect.' });
      return;
    }
    if (!wasOpen) this.emit('connect-failed', { attempt: this.attempt });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const delay = reconnectDelay(this.attempt, this.settings, this.random);
    this.attempt += 1;
    this.nextAttemptAt = this.now() + delay;
    this.setConnection('offline');
    // Listeners show "reconnecting in N s"; tell them the new deadline even if the state was already offline.
    this.emit('connection', this.connection);
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.nextAttemptAt = null;
  }

  private setConnection(state: ConnectionState): void {
    if (this.connection === state) return;
    this.connection = state;
    this.emit('connection', state);
  }

  private schedulePing(): void {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (!this.socket) return;
      this.sendFrame({ type: 'ping' });
      this.pongTimer = this.timers.setTimeout(() => this.onDeadLink(), this.settings.pongTimeoutMs);
      this.schedulePing();
    }, this.settings.pingIntervalMs);
  }

  private stopHeartbeat(): void {
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer);
    if (this.pongTimer !== null) this.timers.clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  /** No pong in time: a half-open TCP link can stay "open" for minutes; do not wait for it to say so. */
  private onDeadLink(): void {
    this.pongTimer = null;
    const socket = this.detachSocket();
    try {
      socket?.close(CloseCode.setupFailed, 'no pong');
    } catch {
      // nothing to close
    }
    this.onClosed(CloseCode.setupFailed, true);
  }

  private sendFrame(frame: ClientFrame): boolean {
    if (!this.socket || !this.opened) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // ---------- incoming frames ----------

  private onText(text: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof text === 'string' ? text : String(text)) as ServerFrame;
    } catch {
      return;
    }
    // Any frame proves the link is alive, so a pong queued behind messages still counts.
    if (this.pongTimer !== null) {
      this.timers.clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    this.handleFrame(frame);
  }

  private handleFrame(frame: ServerFrame): void {
    switch (frame?.type) {
      case 'hello':
        return this.onHello(frame);
      case 'ack':
        return this.onAck(frame);
      case 'message':
        return this.onMessage(frame.message);
      case 'synced':
        return this.onSynced(frame);
      case 'history':
        return this.onHistory(frame);
      case 'resync':
        return this.onResync(frame);
      case 'typing':
        return this.onTyping(frame);
      case 'receipt':
        return this.onReceipt(frame);
      case 'presence':
        this.presence.set(frame.userId, Boolean(frame.online));
        return this.emit('presence', frame.userId);
      case 'chat':
        return this.onChatChange(frame);
      case 'quota':
        this.quota = frame.quota;
        return this.emit('quota', this.quota);
      case 'error':
        return this.onError(frame);
      default:
        // pong, and frame types a newer server may add
        return undefined;
    }
  }

  private onHello(frame: ServerFrame & { type: 'hello' }): void {
    this.ready = true;
    this.attempt = 0;
    this.me = frame.user;
    this.quota = frame.quota ?? this.quota;
    this.limits = frame.limits ?? this.limits;
    // The server sends presence for online members right after hello; what we knew is stale.
    this.presence.clear();
    this.applySummaries(frame.chats ?? [], { complete: true });
    this.setConnection('online');

    // 1. Catch up every chat we hold messages of, from its last contiguous seq.
    this.syncChats([...this.chats.values()].filter((chat) => chat.timeline.loaded));
    // 2. First pages lost with the previous socket (or asked for while offline).
    for (const chat of this.chats.values()) if (chat.wantsBase && !chat.timeline.loaded) this.requestLatest(chat);
    // 3. Whatever was never acked goes again, with the same clientMsgId.
    for (const entry of this.outbox.unacked()) this.sendFrame(this.outbox.frameFor(entry));

    this.emit('me', this.me);
    this.emit('quota', this.quota);
    this.emit('presence');
    this.emit('chats');
    if (this.activeChatId) {
      this.emit('messages', this.activeChatId, { older: false });
      const active = this.chats.get(this.activeChatId);
      if (active) this.maybeMarkRead(active);
    }
  }

  private onMessage(message: Message | undefined): void {
    if (!message || typeof message.seq !== 'number') return;
    let chat = this.chats.get(message.chatId);
    if (!chat) {
      chat = this.addChat(placeholderSummary(message.chatId));
      this.emit('unknown-chat', message.chatId);
    }
    if (!chat.timeline.add(message)) {
      if (this.completesOwnFile(chat, message)) this.afterTimelineChange(chat);
      return;
    }
    this.noteActivity(chat, message);
    this.stopTyping(chat, message.senderId);
    this.afterTimelineChange(chat);
  }

  /** Our own file message, held as built from its ack (no key yet), takes the server's copy. */
  private completesOwnFile(chat: ChatState, message: Message): boolean {
    const held = chat.timeline.bySeq.get(message.seq);
    if (!held?.file || held.file.key || !message.file?.key) return false;
    return chat.timeline.replace(message);
  }

  private onAck(frame: ServerFrame & { type: 'ack' }): void {
    if (typeof frame.messagesToday === 'number' && this.quota && frame.messagesToday !== this.quota.messagesToday) {
      this.quota = { ...this.quota, messagesToday: frame.messagesToday };
      this.emit('quota', this.quota);
    }
    const entry = this.outbox.ack(frame.clientMsgId, frame.seq, frame.createdAt);
    const chat = this.chats.get(frame.chatId);
    if (!entry || !chat) return;
    const message: Message = {
      chatId: frame.chatId,
      seq: frame.seq,
      senderId: this.me?.userId ?? '',
      clientMsgId: entry.clientMsgId,
      kind: entry.fileKey ? 'file' : 'text',
      createdAt: frame.createdAt,
      ...(entry.fileKey
        ? {
            file: {
              // Not entry.fileKey: the server moved the object out of pending/, and only its
              // `message` (or the next sync) says where; until then the page shows no preview.
              key: '',
              name: entry.file?.name ?? 'file',
              size: entry.file?.size ?? 0,
              contentType: entry.file?.contentType ?? '',
            },
          }
        : { text: entry.text }),
    };
    // The same message may also come back as a `message` frame; the timeline keeps one per seq.
    if (chat.timeline.add(message)) this.noteActivity(chat, message);
    this.afterTimelineChange(chat);
  }

  private onSynced(frame: ServerFrame & { type: 'synced' }): void {
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    for (const message of frame.messages ?? []) {
      if (chat.timeline.add(message)) this.noteActivity(chat, message);
      else this.completesOwnFile(chat, message);
    }
    if (typeof frame.lastSeq === 'number') {
      chat.timeline.acceptThrough(frame.lastSeq);
      chat.summary.lastSeq = Math.max(chat.summary.lastSeq, frame.lastSeq);
    }
    this.afterTimelineChange(chat);
  }

  private onHistory(frame: ServerFrame & { type: 'history' }): void {
    const request = frame.id !== undefined ? this.pendingHistory.get(frame.id) : undefined;
    if (frame.id !== undefined) this.pendingHistory.delete(frame.id);
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    const kind = request?.kind ?? chat.loading ?? 'latest';
    chat.loading = null;
    const messages = frame.messages ?? [];
    if (kind === 'latest') {
      chat.wantsBase = false;
      chat.timeline.setBase(messages, Boolean(frame.hasMore));
      const newest = messages.at(-1);
      if (newest) this.noteActivity(chat, newest);
    } else {
      chat.timeline.addOlder(messages, Boolean(frame.hasMore));
    }
    this.afterTimelineChange(chat, { older: kind === 'older' });
  }

  private onResync(frame: ServerFrame & { type: 'resync' }): void {
    const targets = frame.chatId
      ? [this.chats.get(frame.chatId)].filter((chat): chat is ChatState => chat !== undefined)
      : [...this.chats.values()].filter((chat) => chat.timeline.loaded);
    if (frame.reason === 'too_far_behind') {
      // Too much was missed to replay: start the chat again from its newest page.
      for (const chat of targets) {
        const wanted = chat.timeline.loaded || chat.wantsBase || chat.chatId === this.activeChatId;
        chat.timeline.reset();
        chat.loading = null;
        if (wanted) this.requestLatest(chat);
        this.emit('messages', chat.chatId, { older: false });
      }
      return;
    }
    // bus_reconnected, slow_consumer: events may have been dropped; ask for what came after what we hold.
    this.syncChats(targets.filter((chat) => chat.timeline.loaded));
  }

  private onTyping(frame: ServerFrame & { type: 'typing' }): void {
    if (frame.userId === this.me?.userId) return;
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    const previous = chat.typing.get(frame.userId);
    if (previous) this.timers.clearTimeout(previous.timer);
    const timer = this.timers.setTimeout(() => this.stopTyping(chat, frame.userId), this.settings.typingShowMs);
    chat.typing.set(frame.userId, { username: frame.username, timer });
    this.emit('typing', chat.chatId);
  }

  private onReceipt(frame: ServerFrame & { type: 'receipt' }): void {
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    const summary = chat.summary;
    summary.readPositions = { ...summary.readPositions, [frame.userId]: Math.max(summary.readPositions?.[frame.userId] ?? 0, frame.seq) };
    if (frame.userId === this.me?.userId) {
      // Read in another tab or device.
      summary.readSeq = Math.max(summary.readSeq, frame.seq);
      summary.unread = summary.readSeq >= summary.lastSeq ? 0 : Math.min(summary.unread, summary.lastSeq - summary.readSeq);
    }
    this.emit('chats');
    this.emit('messages', chat.chatId, { older: false });
  }

  private onChatChange(frame: ServerFrame & { type: 'chat' }): void {
    if (frame.change === 'removed') {
      this.removeChat(frame.chat.chatId);
      return;
    }
    this.applySummaries([frame.chat], { complete: false });
    this.emit('chats');
    if (this.chats.has(frame.chat.chatId)) this.emit('messages', frame.chat.chatId, { older: false });
  }

  private onError(frame: ServerFrame & { type: 'error' }): void {
    const details = frame.details ?? {};
    const idFromDetails = typeof details.clientMsgId === 'string' ? details.clientMsgId : undefined;
    const clientMsgId = (frame.id && this.outbox.get(frame.id) ? frame.id : undefined) ?? idFromDetails;
    const entry = clientMsgId ? this.outbox.fail(clientMsgId, { code: frame.code, message: frame.message, details }) : undefined;
    if (entry) {
      this.emit('messages', entry.chatId, { older: false });
      return;
    }
    const request = frame.id ? this.pendingHistory.get(frame.id) : undefined;
    if (request && frame.id) {
      this.pendingHistory.delete(frame.id);
      const chat = this.chats.get(request.chatId);
      if (chat) chat.loading = null;
    }
    // A chat we still list but are no longer in (removed while the news was in flight): drop it quietly.
    const chatId = request?.chatId ?? (typeof details.chatId === 'string' ? details.chatId : undefined);
    if (frame.code === 'not_found' && chatId && (request || frame.frame === 'sync')) {
      this.removeChat(chatId);
      return;
    }
    // Typing and read positions are best effort: a refusal is not worth interrupting anyone.
    if (frame.frame === 'typing' || frame.frame === 'read') return;
    this.emit('notice', { code: frame.code, message: frame.message });
  }

  // ---------- chat state ----------

  private addChat(summary: ChatSummary): ChatState {
    const chatId = summary.chatId;
    const chat: ChatState = {
      chatId,
      summary: { ...summary, readPositions: summary.readPositions ?? {} },
      timeline: new ChatTimeline({
        gapWaitMs: this.settings.gapWaitMs,
        timers: this.timers,
        onGap: () => this.syncChats([chat]),
      }),
      loading: null,
      wantsBase: false,
      readSeqAtOpen: null,
      typing: new Map(),
      typingSentAt: -Infinity,
      typingTimer: null,
      readSent: 0,
      readPending: 0,
      readTimer: null,
    };
    this.chats.set(chatId, chat);
    return chat;
  }

  /**
   * Server summaries replace ours, except where we already know more (a newer
   * message than the summary was built from). `complete` means the list is every
   * chat the user is in: the ones missing from it were left while we were away.
   */
  private applySummaries(summaries: readonly ChatSummary[], { complete }: { complete: boolean }): void {
    const seen = new Set<string>();
    for (const incoming of summaries) {
      seen.add(incoming.chatId);
      const chat = this.chats.get(incoming.chatId);
      if (!chat) {
        this.addChat(incoming);
        continue;
      }
      const known = chat.summary;
      const next: ChatSummary = { ...incoming, readPositions: incoming.readPositions ?? {} };
      if (known.lastSeq > next.lastSeq) {
        next.lastSeq = known.lastSeq;
        next.lastMessage = known.lastMessage;
      }
      for (const [userId, seq] of Object.entries(known.readPositions ?? {})) {
        if ((next.readPositions[userId] ?? -1) < seq) next.readPositions = { ...next.readPositions, [userId]: seq };
      }
      chat.summary = next;
    }
    if (complete) for (const chatId of [...this.chats.keys()]) if (!seen.has(chatId)) this.removeChat(chatId);
  }

  /** The list fetched over HTTP (GET /api/chats): complete, like the one in hello. */
  setChats(summaries: readonly ChatSummary[]): void {
    this.applySummaries(summaries, { complete: true });
    this.emit('chats');
  }

  /** One chat learned over HTTP (created, member added). */
  upsertChat(summary: ChatSummary): ChatState | undefined {
    this.applySummaries([summary], { complete: false });
    this.emit('chats');
    return this.chats.get(summary.chatId);
  }

  removeChat(chatId: string): void {
    const chat = this.chats.get(chatId);
    if (!chat) return;
    chat.timeline.dispose();
    for (const { timer } of chat.typing.values()) this.timers.clearTimeout(timer);
    if (chat.readTimer !== null) this.timers.clearTimeout(chat.readTimer);
    this.cancelTyping(chat);
    this.chats.delete(chatId);
    this.outbox.removeChat(chatId);
    if (this.activeChatId === chatId) this.activeChatId = null;
    this.emit('chats');
    this.emit('chat-removed', chatId);
  }

  /** Keeps the summary (list order, preview, unread) in step with a message we just learned of. */
  private noteActivity(chat: ChatState, message: Message): void {
    const summary = chat.summary;
    if (message.seq <= summary.lastSeq) return; // the summary already counts it
    summary.lastSeq = message.seq;
    const at = message.createdAt ?? this.now();
    summary.lastMessage = {
      seq: message.seq,
      senderId: message.senderId,
      preview: previewOf({ text: message.text, fileName: message.file?.name }),
      at,
    };
    summary.updatedAt = Math.max(summary.updatedAt ?? 0, at);
    if (message.senderId !== this.me?.userId && message.seq > summary.readSeq && !this.isReading(chat)) {
      summary.unread = (summary.unread ?? 0) + 1;
    }
  }

  private afterTimelineChange(chat: ChatState, { older = false } = {}): void {
    const timeline = chat.timeline;
    this.outbox.settle(chat.chatId, (seq) => timeline.lastSeq !== null && seq <= timeline.lastSeq && timeline.bySeq.has(seq));
    this.emit('messages', chat.chatId, { older });
    this.emit('chats');
    this.maybeMarkRead(chat);
  }

  private syncChats(chats: readonly ChatState[]): void {
    const entries = chats.flatMap((chat) =>
      chat.timeline.lastSeq === null ? [] : [{ chatId: chat.chatId, lastSeq: chat.timeline.lastSeq }],
    );
    for (let i = 0; i < entries.length; i += SYNC_MAX_CHATS) this.sendFrame({ type: 'sync', chats: entries.slice(i, i + SYNC_MAX_CHATS) });
  }

  private requestLatest(chat: ChatState): void {
    chat.wantsBase = true;
    if (!this.ready || chat.loading === 'latest') return;
    const id = `h${++this.frameCounter}`;
    this.pendingHistory.set(id, { chatId: chat.chatId, kind: 'latest' });
    chat.loading = 'latest';
    this.sendFrame({ type: 'history', id, chatId: chat.chatId, limit: this.settings.historyPageSize });
  }

  /** Asks for the page before the oldest message shown; false when there is none or one is on its way. */
  loadOlder(chatId: string): boolean {
    const chat = this.chats.get(chatId);
    if (!chat || !chat.timeline.loaded || !chat.timeline.hasMore || chat.loading || !this.ready) return false;
    const before = chat.timeline.oldestSeq();
    if (before === null || before <= 1) {
      chat.timeline.hasMore = false;
      return false;
    }
    const id = `h${++this.frameCounter}`;
    this.pendingHistory.set(id, { chatId, kind: 'older' });
    chat.loading = 'older';
    this.sendFrame({ type: 'history', id, chatId, before, limit: this.settings.historyPageSize });
    return true;
  }

  private isReading(chat: ChatState): boolean {
    return this.activeChatId === chat.chatId && this.visible && chat.timeline.loaded;
  }

  /** Reports the newest shown seq as read, at most once per `readThrottleMs`, the last value always sent. */
  private maybeMarkRead(chat: ChatState): void {
    if (!this.isReading(chat)) return;
    const seq = chat.timeline.lastSeq ?? 0;
    const summary = chat.summary;
    if (seq <= 0 || seq <= summary.readSeq) return;
    summary.readSeq = seq;
    summary.unread = 0;
    if (this.me)
      summary.readPositions = { ...summary.readPositions, [this.me.userId]: Math.max(summary.readPositions?.[this.me.userId] ?? 0, seq) };
    this.emit('chats');
    chat.readPending = seq;
    if (chat.readTimer === null) this.flushRead(chat);
  }

  private flushRead(chat: ChatState): void {
    if (chat.readPending > chat.readSent && this.sendFrame({ type: 'read', chatId: chat.chatId, seq: chat.readPending })) {
      chat.readSent = chat.readPending;
      chat.readTimer = this.timers.setTimeout(() => {
        chat.readTimer = null;
        this.flushRead(chat);
      }, this.settings.readThrottleMs);
    }
  }

  private stopTyping(chat: ChatState, userId: string): void {
    const entry = chat.typing.get(userId);
    if (!entry) return;
    this.timers.clearTimeout(entry.timer);
    chat.typing.delete(userId);
    this.emit('typing', chat.chatId);
  }

  // ---------- what the page does ----------

  /**
   * The chat the user is looking at (null: none). Loads its newest page the first time.
   * Remembers where the reader had read up to, for the "new messages" line.
   */
  openChat(chatId: string | null): void {
    this.activeChatId = chatId;
    const chat = chatId ? this.chats.get(chatId) : undefined;
    if (!chat) return;
    chat.readSeqAtOpen = chat.summary.readSeq;
    if (!chat.timeline.loaded) this.requestLatest(chat);
    this.maybeMarkRead(chat);
  }

  /** Whether the reader can see the page (visible and focused); read receipts wait until then. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    const chat = this.activeChatId ? this.chats.get(this.activeChatId) : undefined;
    if (visible && chat) this.maybeMarkRead(chat);
  }

  /** Queues a message; it goes now if connected, else after the next hello. Returns the outbox entry. */
  send(chatId: string, content: OutboxContent): OutboxEntry {
    const entry = this.outbox.add(chatId, content);
    if (this.ready) this.sendFrame(this.outbox.frameFor(entry));
    this.emit('messages', chatId, { older: false });
    return entry;
  }

  sendText(chatId: string, text: string): OutboxEntry {
    return this.send(chatId, { text });
  }

  sendFile(chatId: string, fileKey: string, file: Omit<FileInfo, 'key'>): OutboxEntry {
    return this.send(chatId, { fileKey, file });
  }

  /**
   * A file the page is about to upload: shown at once as "uploading", sent as a message
   * by `uploadFinished`, or marked failed by `uploadFailed`. Returns its clientMsgId.
   */
  startUpload(chatId: string, file: Omit<FileInfo, 'key'>): string {
    const entry = this.outbox.addUpload(chatId, file);
    this.emit('messages', chatId, { older: false });
    return entry.clientMsgId;
  }

  /** Records progress without a render: the page moves its progress bar itself, many times a second. */
  uploadProgress(clientMsgId: string, fraction: number): void {
    this.outbox.uploadProgress(clientMsgId, fraction);
  }

  uploadFinished(clientMsgId: string, fileKey: string): void {
    const entry = this.outbox.uploaded(clientMsgId, fileKey);
    if (!entry) return;
    if (this.ready) this.sendFrame(this.outbox.frameFor(entry));
    this.emit('messages', entry.chatId, { older: false });
  }

  /** A refusal before or during the upload (type, size, storage quota, not a member, network). */
  uploadFailed(clientMsgId: string, error: ErrorInfo): void {
    const entry = this.outbox.fail(clientMsgId, error);
    if (entry) this.emit('messages', entry.chatId, { older: false });
  }

  /** Sends a failed message again with its own clientMsgId: the server stores it at most once. */
  retry(clientMsgId: string): void {
    const entry = this.outbox.retry(clientMsgId);
    if (!entry) return;
    if (this.ready) this.sendFrame(this.outbox.frameFor(entry));
    this.emit('messages', entry.chatId, { older: false });
  }

  discard(clientMsgId: string): void {
    const entry = this.outbox.get(clientMsgId);
    if (!entry || entry.status === 'sent') return;
    this.outbox.remove(clientMsgId);
    this.emit('messages', entry.chatId, { older: false });
  }

  /**
   * Call on every keystroke; sends at most one `typing` per `typingSendIntervalMs`.
   * A keystroke inside the interval is reported when it ends, so typing that goes
   * on is never silent for longer than the interval.
   */
  notifyTyping(chatId: string): void {
    const chat = this.chats.get(chatId);
    if (!chat || !this.ready || chat.typingTimer !== null) return;
    const wait = chat.typingSentAt + this.settings.typingSendIntervalMs - this.now();
    if (wait <= 0) {
      this.sendTyping(chat);
      return;
    }
    chat.typingTimer = this.timers.setTimeout(() => {
      chat.typingTimer = null;
      this.sendTyping(chat);
    }, wait);
  }

  private sendTyping(chat: ChatState): void {
    if (this.ready && this.sendFrame({ type: 'typing', chatId: chat.chatId })) chat.typingSentAt = this.now();
  }

  private cancelTyping(chat: ChatState): void {
    if (chat.typingTimer !== null) this.timers.clearTimeout(chat.typingTimer);
    chat.typingTimer = null;
  }

  // ---------- what the page reads ----------

  /** Chats, latest activity first. */
  chatList(): ChatState[] {
    const activity = (chat: ChatState) => Math.max(chat.summary.lastMessage?.at ?? 0, chat.summary.updatedAt ?? 0);
    return [...this.chats.values()].sort((a, b) => activity(b) - activity(a));
  }

  getChat(chatId: string): ChatState | undefined {
    return this.chats.get(chatId);
  }

  memberName(chat: ChatState | undefined, userId: string): string {
    if (this.me && userId === this.me.userId) return this.me.username;
    return chat?.summary.members?.find((member: Member) => member.userId === userId)?.username ?? 'someone';
  }

  /** What the conversation shows: confirmed messages by seq, then the user's unconfirmed ones. */
  messagesFor(chatId: string): DisplayMessage[] {
    const chat = this.chats.get(chatId);
    if (!chat) return [];
    const myId = this.me?.userId ?? '';
    const items: DisplayMessage[] = chat.timeline.shown().map((message) => ({
      key: messageKey(message),
      clientMsgId: message.clientMsgId,
      seq: message.seq,
      senderId: message.senderId,
      senderName: this.memberName(chat, message.senderId),
      mine: message.senderId === myId,
      kind: message.kind ?? (message.file ? 'file' : 'text'),
      text: message.text,
      file: message.file,
      createdAt: message.createdAt ?? 0,
      status: 'delivered',
      error: null,
    }));
    for (const entry of this.outbox.forChat(chatId)) {
      items.push({
        key: messageKey({ clientMsgId: entry.clientMsgId, senderId: myId, seq: entry.seq }),
        clientMsgId: entry.clientMsgId,
        seq: entry.seq,
        senderId: myId,
        senderName: this.me?.username ?? 'me',
        mine: true,
        kind: entry.file ? 'file' : 'text',
        text: entry.text,
        // No key: an unconfirmed file is still under pending/, where nobody may download it.
        file: entry.file ? { ...entry.file } : undefined,
        createdAt: entry.createdAt ?? entry.writtenAt,
        status: entry.status,
        error: entry.error,
        progress: entry.progress,
        retryable: this.outbox.canRetry(entry),
      });
    }
    return items;
  }

  typingNames(chatId: string): string[] {
    const chat = this.chats.get(chatId);
    return chat ? [...chat.typing.values()].map((entry) => entry.username) : [];
  }

  /** The other members whose read position has reached `seq`. */
  readBy(chatId: string, seq: number): string[] {
    const chat = this.chats.get(chatId);
    const myId = this.me?.userId;
    if (!chat || !myId) return [];
    const positions = chat.summary.readPositions ?? {};
    return (chat.summary.members ?? [])
      .filter((member) => member.userId !== myId && (positions[member.userId] ?? 0) >= seq)
      .map((member) => member.username);
  }

  /**
   * Who has read the user's own message, when it is the latest one shown (other
   * members only). Once someone answers, the answer shows it was read.
   */
  seenBy(chatId: string): string[] {
    const chat = this.chats.get(chatId);
    const myId = this.me?.userId;
    if (!chat || !myId) return [];
    const latest = chat.timeline.shown().at(-1);
    if (!latest || latest.senderId !== myId) return [];
    return this.readBy(chatId, latest.seq);
  }

  /**
   * The first message from someone else the reader had not read when the chat was
   * opened: the "new messages" line goes above it. Null when there is none.
   */
  firstUnreadSeq(chatId: string): number | null {
    const chat = this.chats.get(chatId);
    if (!chat || chat.readSeqAtOpen === null) return null;
    const readSeqAtOpen = chat.readSeqAtOpen;
    const myId = this.me?.userId;
    return chat.timeline.shown().find((message) => message.seq > readSeqAtOpen && message.senderId !== myId)?.seq ?? null;
  }

  isOnline(userId: string): boolean {
    return this.presence.get(userId) === true;
  }
}

export function createChatClient(options: ChatClientOptions): ChatClient {
  return new ChatClient(options);
}
