// Types for the TypeScript tests; the browser loads chat-client.js as it is.
import type { ChatTimeline, Timers, TimelineMessage } from './reorder-buffer.js';
import type { Outbox, OutboxEntry } from './outbox.js';

export interface Settings {
  gapWaitMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  typingSendIntervalMs: number;
  typingShowMs: number;
  readThrottleMs: number;
  historyPageSize: number;
}

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

export interface ChatSummaryLike {
  chatId: string;
  kind: 'direct' | 'group';
  title: string;
  createdBy: string;
  members: { userId: string; username: string }[];
  lastSeq: number;
  readSeq: number;
  unread: number;
  lastMessage?: { seq: number; senderId: string; preview: string; at: number };
  readPositions: Record<string, number>;
  updatedAt: number;
}

export interface ChatState {
  chatId: string;
  summary: ChatSummaryLike;
  timeline: ChatTimeline;
  loading: 'latest' | 'older' | null;
  wantsBase: boolean;
}

export interface DisplayMessage {
  key: string;
  clientMsgId?: string;
  seq: number | null;
  senderId: string;
  senderName: string;
  mine: boolean;
  kind: 'text' | 'file';
  text?: string;
  file?: { key: string; name?: string; size?: number; contentType?: string };
  createdAt: number;
  status: 'delivered' | 'pending' | 'sent' | 'failed';
  error: OutboxEntry['error'];
}

export declare const defaultSettings: Readonly<Settings>;
export declare const SESSION_ENDED: 4501;
export declare function isTerminalClose(code: number): boolean;
export declare function reconnectDelay(
  attempt: number,
  settings: Pick<Settings, 'reconnectBaseMs' | 'reconnectMaxMs'>,
  random?: () => number,
): number;
export declare function previewOf(message: TimelineMessage): string;
export declare function describeSendError(error: OutboxEntry['error'], now?: number): string;

export interface ChatClientOptions {
  url: string;
  createSocket?: (url: string) => SocketLike;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  newClientMsgId?: () => string;
  settings?: Partial<Settings>;
}

export declare class ChatClient {
  constructor(options: ChatClientOptions);
  readonly settings: Settings;
  readonly outbox: Outbox;
  readonly chats: Map<string, ChatState>;
  readonly presence: Map<string, boolean>;
  me: { userId: string; username: string; email?: string; tier: 'free' | 'premium' } | null;
  quota: Record<string, number | string> | null;
  connection: ConnectionState;
  attempt: number;
  nextAttemptAt: number | null;
  activeChatId: string | null;
  on(type: string, listener: (...args: never[]) => void): () => void;
  start(): void;
  stop(): void;
  reconnectNow(): void;
  setChats(summaries: ChatSummaryLike[]): void;
  upsertChat(summary: ChatSummaryLike): ChatState | undefined;
  removeChat(chatId: string): void;
  openChat(chatId: string | null): void;
  setVisible(visible: boolean): void;
  loadOlder(chatId: string): boolean;
  send(chatId: string, content: { text?: string; fileKey?: string; file?: OutboxEntry['file'] }): OutboxEntry;
  sendText(chatId: string, text: string): OutboxEntry;
  sendFile(chatId: string, fileKey: string, file: NonNullable<OutboxEntry['file']>): OutboxEntry;
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
  notifyTyping(chatId: string): void;
  chatList(): ChatState[];
  getChat(chatId: string): ChatState | undefined;
  messagesFor(chatId: string): DisplayMessage[];
  typingNames(chatId: string): string[];
  seenBy(chatId: string): string[];
  isOnline(userId: string): boolean;
}

export declare function createChatClient(options: ChatClientOptions): ChatClient;
