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
import { ChatTimeline } from './reorder-buffer.js';
import { Outbox, newClientMsgId } from './outbox.js';

export const defaultSettings = Object.freeze({
  /** How long a message above a gap is held before asking the server to sync. */
  gapWaitMs: 1000,
  pingIntervalMs: 20_000,
  /** A ping unanswered this long means the link is dead, whatever the socket says. */
  pongTimeoutMs: 10_000,
  reconnectBaseMs: 500,
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

const realTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/** 4500-4999 close codes are terminal: reconnecting would not help. */
export function isTerminalClose(code) {
  return code >= 4500 && code <= 4999;
}
export const SESSION_ENDED = 4501;

/** Full jitter on the upper half: delays spread out, yet grow with each failure up to the cap. */
export function reconnectDelay(attempt, { reconnectBaseMs, reconnectMaxMs }, random = Math.random) {
  const ceiling = Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function previewOf(message) {
  if (message.kind === 'file' || message.file) return `File: ${message.file?.name ?? 'attachment'}`;
  const text = (message.text ?? '').replace(/\s+/g, ' ').trim();
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function formatWhen(epochMs, now = Date.now()) {
  const when = new Date(epochMs);
  const time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return when.toDateString() === new Date(now).toDateString() ? `at ${time}` : `on ${when.toLocaleDateString()} at ${time}`;
}

/** The sentence shown under a message the server refused. */
export function describeSendError(error, now = Date.now()) {
  const details = error?.details ?? {};
  if (error?.code === 'quota_exceeded' && typeof details.resetsAt === 'number') {
    const limit = typeof details.limit === 'number' ? `${details.limit} ` : '';
    return `Daily limit of ${limit}messages reached. You can send again ${formatWhen(details.resetsAt, now)}.`;
  }
  return error?.message || 'Not sent';
}

function messageKey(message) {
  return message.clientMsgId ? `c:${message.senderId}:${message.clientMsgId}` : `s:${message.seq}`;
}

export class ChatClient {
  /**
   * @param {{
   *   url: string,
   *   createSocket?: (url: string) => any,
   *   timers?: { setTimeout: Function, clearTimeout: Function },
   *   now?: () => number,
   *   random?: () => number,
   *   newClientMsgId?: () => string,
   *   settings?: Partial<typeof defaultSettings>,
   * }} options
   */
  constructor(options) {
    this.url = options.url;
    this.createSocket = options.createSocket ?? ((url) => new WebSocket(url));
    this.timers = options.timers ?? realTimers;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.settings = { ...defaultSettings, ...options.settings };
    this.outbox = new Outbox({ newId: options.newClientMsgId ?? newClientMsgId, now: this.now });

    this.listeners = new Map();
    /** @type {Map<string, any>} chatId -> chat state */
    this.chats = new Map();
    /** @type {Map<string, boolean>} */
    this.presence = new Map();
    this.me = null;
    this.quota = null;
    this.activeChatId = null;
    this.visible = true;

    this.connection = 'idle';
    this.socket = null;
    this.opened = false;
    this.ready = false;
    this.stopped = false;
    this.attempt = 0;
    this.nextAttemptAt = null;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.frameCounter = 0;
    /** @type {Map<string, { chatId: string, kind: 'latest' | 'older' }>} */
    this.pendingHistory = new Map();
  }

  // ---------- events ----------

  on(type, listener) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(listener);
    return () => this.listeners.get(type)?.delete(listener);
  }

  emit(type, ...args) {
    for (const listener of this.listeners.get(type) ?? []) {
      try {
        listener(...args);
      } catch (err) {
        // A broken listener must not stop frame processing; rethrow outside it so it still surfaces.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // ---------- connection ----------

  start() {
    this.stopped = false;
    if (this.socket) return;
    this.connect();
  }

  /** Closes for good (sign-out, page leaving). */
  stop() {
    this.stopped = true;
    this.clearReconnectTimer();
    const socket = this.detachSocket();
    try {
      socket?.close(1000, 'bye');
    } catch {
      // already closed
    }
    this.setConnection('stopped');
  }

  /** Skips the backoff wait (the browser came back online, the tab became visible). */
  reconnectNow() {
    if (this.connection !== 'offline' || this.stopped) return;
    this.clearReconnectTimer();
    this.connect();
  }

  connect() {
    this.clearReconnectTimer();
    this.setConnection('connecting');
    let socket;
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

  detachSocket() {
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

  onClosed(code, wasOpen) {
    if (this.stopped) return;
    if (code === SESSION_ENDED) {
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

  scheduleReconnect() {
    const delay = reconnectDelay(this.attempt, this.settings, this.random);
    this.attempt += 1;
    this.nextAttemptAt = this.now() + delay;
    this.setConnection('offline');
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  clearReconnectTimer() {
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.nextAttemptAt = null;
  }

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.emit('connection', state);
  }

  schedulePing() {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (!this.socket) return;
      this.sendFrame({ type: 'ping' });
      this.pongTimer = this.timers.setTimeout(() => this.onDeadLink(), this.settings.pongTimeoutMs);
      this.schedulePing();
    }, this.settings.pingIntervalMs);
  }

  stopHeartbeat() {
    if (this.pingTimer !== null) this.timers.clearTimeout(this.pingTimer);
    if (this.pongTimer !== null) this.timers.clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  /** No pong in time: a half-open TCP link can stay "open" for minutes; do not wait for it to say so. */
  onDeadLink() {
    this.pongTimer = null;
    const socket = this.detachSocket();
    try {
      socket?.close(4000, 'no pong');
    } catch {
      // nothing to close
    }
    this.onClosed(4000, true);
  }

  sendFrame(frame) {
    if (!this.socket || !this.opened) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  // ---------- incoming frames ----------

  onText(text) {
    let frame;
    try {
      frame = JSON.parse(typeof text === 'string' ? text : String(text));
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

  handleFrame(frame) {
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

  onHello(frame) {
    this.ready = true;
    this.attempt = 0;
    this.me = frame.user;
    this.quota = frame.quota ?? this.quota;
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

  onMessage(message) {
    if (!message || typeof message.seq !== 'number') return;
    let chat = this.chats.get(message.chatId);
    if (!chat) {
      chat = this.addChat(placeholderSummary(message.chatId));
      this.emit('unknown-chat', message.chatId);
    }
    if (!chat.timeline.add(message)) return;
    this.noteActivity(chat, message);
    this.stopTyping(chat, message.senderId);
    this.afterTimelineChange(chat);
  }

  onAck(frame) {
    const entry = this.outbox.ack(frame.clientMsgId, frame.seq, frame.createdAt);
    const chat = this.chats.get(frame.chatId);
    if (!entry || !chat) return;
    const message = {
      chatId: frame.chatId,
      seq: frame.seq,
      senderId: this.me?.userId ?? '',
      clientMsgId: entry.clientMsgId,
      kind: entry.fileKey ? 'file' : 'text',
      createdAt: frame.createdAt,
      ...(entry.fileKey
        ? {
            file: {
              key: entry.fileKey,
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

  onSynced(frame) {
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    for (const message of frame.messages ?? []) {
      if (chat.timeline.add(message)) this.noteActivity(chat, message);
    }
    if (typeof frame.lastSeq === 'number') {
      chat.timeline.acceptThrough(frame.lastSeq);
      chat.summary.lastSeq = Math.max(chat.summary.lastSeq, frame.lastSeq);
    }
    this.afterTimelineChange(chat);
  }

  onHistory(frame) {
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
      const newest = messages[messages.length - 1];
      if (newest) this.noteActivity(chat, newest);
    } else {
      chat.timeline.addOlder(messages, Boolean(frame.hasMore));
    }
    this.afterTimelineChange(chat, { older: kind === 'older' });
  }

  onResync(frame) {
    const targets = frame.chatId
      ? [this.chats.get(frame.chatId)].filter(Boolean)
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

  onTyping(frame) {
    if (frame.userId === this.me?.userId) return;
    const chat = this.chats.get(frame.chatId);
    if (!chat) return;
    const previous = chat.typing.get(frame.userId);
    if (previous) this.timers.clearTimeout(previous.timer);
    const timer = this.timers.setTimeout(() => this.stopTyping(chat, frame.userId), this.settings.typingShowMs);
    chat.typing.set(frame.userId, { username: frame.username, timer });
    this.emit('typing', chat.chatId);
  }

  onReceipt(frame) {
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

  onChatChange(frame) {
    if (frame.change === 'removed') {
      this.removeChat(frame.chat.chatId);
      return;
    }
    this.applySummaries([frame.chat], { complete: false });
    this.emit('chats');
    if (this.chats.has(frame.chat.chatId)) this.emit('messages', frame.chat.chatId, { older: false });
  }

  onError(frame) {
    const details = frame.details ?? {};
    const clientMsgId = (frame.id && this.outbox.get(frame.id) ? frame.id : undefined) ?? details.clientMsgId;
    const entry = clientMsgId ? this.outbox.fail(clientMsgId, { code: frame.code, message: frame.message, details }) : undefined;
    if (entry) {
      this.emit('messages', entry.chatId, { older: false });
      return;
    }
    const request = frame.id ? this.pendingHistory.get(frame.id) : undefined;
    if (request) {
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

  addChat(summary) {
    const chatId = summary.chatId;
    const chat = {
      chatId,
      summary: { readPositions: {}, ...summary },
      timeline: new ChatTimeline({
        gapWaitMs: this.settings.gapWaitMs,
        timers: this.timers,
        onGap: () => this.syncChats([chat]),
      }),
      /** 'latest' | 'older' while a history request is out */
      loading: null,
      /** The newest page is wanted (the chat was opened, or reset) and has not arrived. */
      wantsBase: false,
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
  applySummaries(summaries, { complete }) {
    const seen = new Set();
    for (const incoming of summaries) {
      seen.add(incoming.chatId);
      const chat = this.chats.get(incoming.chatId);
      if (!chat) {
        this.addChat(incoming);
        continue;
      }
      const known = chat.summary;
      const next = { readPositions: {}, ...incoming };
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
  setChats(summaries) {
    this.applySummaries(summaries, { complete: true });
    this.emit('chats');
  }

  /** One chat learned over HTTP (created, member added). */
  upsertChat(summary) {
    this.applySummaries([summary], { complete: false });
    this.emit('chats');
    return this.chats.get(summary.chatId);
  }

  removeChat(chatId) {
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
  noteActivity(chat, message) {
    const summary = chat.summary;
    if (message.seq <= summary.lastSeq) return; // the summary already counts it
    summary.lastSeq = message.seq;
    summary.lastMessage = { seq: message.seq, senderId: message.senderId, preview: previewOf(message), at: message.createdAt };
    summary.updatedAt = Math.max(summary.updatedAt ?? 0, message.createdAt ?? 0);
    if (message.senderId !== this.me?.userId && message.seq > summary.readSeq && !this.isReading(chat)) {
      summary.unread = (summary.unread ?? 0) + 1;
    }
  }

  afterTimelineChange(chat, { older = false } = {}) {
    const timeline = chat.timeline;
    this.outbox.settle(chat.chatId, (seq) => timeline.lastSeq !== null && seq <= timeline.lastSeq && timeline.bySeq.has(seq));
    this.emit('messages', chat.chatId, { older });
    this.emit('chats');
    this.maybeMarkRead(chat);
  }

  syncChats(chats) {
    const entries = chats.filter((chat) => chat.timeline.loaded).map((chat) => ({ chatId: chat.chatId, lastSeq: chat.timeline.lastSeq }));
    // The protocol caps one sync at 1000 chats.
    for (let i = 0; i < entries.length; i += 1000) this.sendFrame({ type: 'sync', chats: entries.slice(i, i + 1000) });
  }

  requestLatest(chat) {
    chat.wantsBase = true;
    if (!this.ready || chat.loading === 'latest') return;
    const id = `h${++this.frameCounter}`;
    this.pendingHistory.set(id, { chatId: chat.chatId, kind: 'latest' });
    chat.loading = 'latest';
    this.sendFrame({ type: 'history', id, chatId: chat.chatId, limit: this.settings.historyPageSize });
  }

  /** Asks for the page before the oldest message shown; false when there is none or one is on its way. */
  loadOlder(chatId) {
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

  isReading(chat) {
    return this.activeChatId === chat.chatId && this.visible && chat.timeline.loaded;
  }

  /** Reports the newest shown seq as read, at most once per `readThrottleMs`, the last value always sent. */
  maybeMarkRead(chat) {
    if (!this.isReading(chat)) return;
    const seq = chat.timeline.lastSeq;
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

  flushRead(chat) {
    if (chat.readPending > chat.readSent && this.sendFrame({ type: 'read', chatId: chat.chatId, seq: chat.readPending })) {
      chat.readSent = chat.readPending;
      chat.readTimer = this.timers.setTimeout(() => {
        chat.readTimer = null;
        this.flushRead(chat);
      }, this.settings.readThrottleMs);
    }
  }

  stopTyping(chat, userId) {
    const entry = chat.typing.get(userId);
    if (!entry) return;
    this.timers.clearTimeout(entry.timer);
    chat.typing.delete(userId);
    this.emit('typing', chat.chatId);
  }

  // ---------- what the page does ----------

  /** The chat the user is looking at (null: none). Loads its newest page the first time. */
  openChat(chatId) {
    this.activeChatId = chatId;
    const chat = chatId ? this.chats.get(chatId) : undefined;
    if (!chat) return;
    if (!chat.timeline.loaded) this.requestLatest(chat);
    this.maybeMarkRead(chat);
  }

  /** Whether the page is visible; read receipts wait until it is. */
  setVisible(visible) {
    this.visible = visible;
    const chat = this.activeChatId ? this.chats.get(this.activeChatId) : undefined;
    if (visible && chat) this.maybeMarkRead(chat);
  }

  /** Queues a message; it goes now if connected, else after the next hello. Returns the outbox entry. */
  send(chatId, content) {
    const entry = this.outbox.add(chatId, content);
    if (this.ready) this.sendFrame(this.outbox.frameFor(entry));
    this.emit('messages', chatId, { older: false });
    return entry;
  }

  sendText(chatId, text) {
    return this.send(chatId, { text });
  }

  sendFile(chatId, fileKey, file) {
    return this.send(chatId, { fileKey, file });
  }

  retry(clientMsgId) {
    const entry = this.outbox.retry(clientMsgId);
    if (!entry) return;
    if (this.ready) this.sendFrame(this.outbox.frameFor(entry));
    this.emit('messages', entry.chatId, { older: false });
  }

  discard(clientMsgId) {
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
  notifyTyping(chatId) {
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

  sendTyping(chat) {
    if (this.ready && this.sendFrame({ type: 'typing', chatId: chat.chatId })) chat.typingSentAt = this.now();
  }

  cancelTyping(chat) {
    if (chat.typingTimer !== null) this.timers.clearTimeout(chat.typingTimer);
    chat.typingTimer = null;
  }

  // ---------- what the page reads ----------

  /** Chats, latest activity first. */
  chatList() {
    const activity = (chat) => Math.max(chat.summary.lastMessage?.at ?? 0, chat.summary.updatedAt ?? 0);
    return [...this.chats.values()].sort((a, b) => activity(b) - activity(a));
  }

  getChat(chatId) {
    return this.chats.get(chatId);
  }

  memberName(chat, userId) {
    if (userId === this.me?.userId) return this.me.username;
    return chat?.summary.members?.find((member) => member.userId === userId)?.username ?? 'someone';
  }

  /** What the conversation shows: confirmed messages by seq, then the user's unconfirmed ones. */
  messagesFor(chatId) {
    const chat = this.chats.get(chatId);
    if (!chat) return [];
    const myId = this.me?.userId;
    const items = chat.timeline.shown().map((message) => ({
      key: messageKey(message),
      seq: message.seq,
      senderId: message.senderId,
      senderName: this.memberName(chat, message.senderId),
      mine: message.senderId === myId,
      kind: message.kind,
      text: message.text,
      file: message.file,
      createdAt: message.createdAt,
      status: 'delivered',
      error: null,
    }));
    for (const entry of this.outbox.forChat(chatId)) {
      items.push({
        key: `c:${myId}:${entry.clientMsgId}`,
        clientMsgId: entry.clientMsgId,
        seq: entry.seq,
        senderId: myId,
        senderName: this.me?.username ?? 'me',
        mine: true,
        kind: entry.fileKey ? 'file' : 'text',
        text: entry.text,
        file: entry.fileKey ? { key: entry.fileKey, ...entry.file } : undefined,
        createdAt: entry.createdAt ?? entry.writtenAt,
        status: entry.status,
        error: entry.error,
      });
    }
    return items;
  }

  typingNames(chatId) {
    const chat = this.chats.get(chatId);
    return chat ? [...chat.typing.values()].map((entry) => entry.username) : [];
  }

  /**
   * Who has read the user's own message, when it is the latest one shown (other
   * members only). Once someone answers, the answer shows it was read.
   */
  seenBy(chatId) {
    const chat = this.chats.get(chatId);
    const myId = this.me?.userId;
    if (!chat || !myId) return [];
    const latest = chat.timeline.shown().at(-1);
    if (!latest || latest.senderId !== myId) return [];
    const positions = chat.summary.readPositions ?? {};
    return (chat.summary.members ?? [])
      .filter((member) => member.userId !== myId && (positions[member.userId] ?? 0) >= latest.seq)
      .map((member) => member.username);
  }

  isOnline(userId) {
    return this.presence.get(userId) === true;
  }
}

function placeholderSummary(chatId) {
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

export function createChatClient(options) {
  return new ChatClient(options);
}
