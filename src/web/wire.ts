/**
 * The shapes the page reads from the service, over the socket and HTTP. They mirror
 * src/model and src/transport/realtime/protocol.ts by hand: the page may import
 * only src/shared (see eslint.layers.js), and the browser test drives the real
 * server, so a drift shows up there.
 */

export type Tier = 'free' | 'premium';

export interface PublicUser {
  userId: string;
  username: string;
  email?: string | undefined;
  tier: Tier;
}

export interface QuotaSummary {
  tier: Tier;
  messagesToday: number;
  messagesPerDay: number;
  resetsAt: number;
  storageBytes: number;
  storageLimitBytes: number;
}

export interface Member {
  userId: string;
  username: string;
}

export interface ChatSummary {
  chatId: string;
  kind: 'direct' | 'group';
  title: string;
  createdBy: string;
  members: Member[];
  lastSeq: number;
  readSeq: number;
  unread: number;
  lastMessage?: { seq: number; senderId: string; preview: string; at: number } | undefined;
  readPositions: Record<string, number>;
  updatedAt: number;
}

export interface FileInfo {
  key: string;
  name: string;
  size: number;
  contentType: string;
}

export interface Message {
  chatId: string;
  seq: number;
  senderId: string;
  clientMsgId?: string | undefined;
  kind?: 'text' | 'file' | undefined;
  text?: string | undefined;
  file?: FileInfo | undefined;
  createdAt?: number | undefined;
}

/** What the deployment enforces, sent in `hello`, so the page checks before it sends or uploads. */
export interface ClientLimits {
  messageMaxLength: number;
  fileMaxBytes: number;
  fileTypes: readonly string[];
  groupMaxMembers: number;
}

export interface ErrorInfo {
  code: string;
  message: string;
  details?: Record<string, unknown> | undefined;
}

export type ServerFrame =
  | { type: 'hello'; user: PublicUser; quota?: QuotaSummary; chats?: ChatSummary[]; limits?: ClientLimits; serverTime?: number }
  | {
      type: 'ack';
      id?: string;
      chatId: string;
      clientMsgId: string;
      seq: number;
      createdAt: number;
      duplicate?: boolean;
      /** The sender's messages counted today, when the server knows it: usage rides on the ack. */
      messagesToday?: number;
    }
  | { type: 'message'; message: Message }
  | { type: 'typing'; chatId: string; userId: string; username: string }
  | { type: 'receipt'; chatId: string; userId: string; seq: number }
  | { type: 'presence'; userId: string; online: boolean }
  | { type: 'chat'; change: 'created' | 'updated' | 'removed'; chat: ChatSummary }
  | { type: 'synced'; id?: string; chatId: string; messages?: Message[]; lastSeq?: number }
  | { type: 'resync'; chatId?: string; reason: string; lastSeq?: number }
  | { type: 'history'; id?: string; chatId: string; messages?: Message[]; hasMore?: boolean }
  | { type: 'quota'; quota: QuotaSummary }
  | ({ type: 'error'; id?: string; frame?: string } & ErrorInfo)
  | { type: 'pong'; id?: string };

export type ClientFrame =
  | { type: 'send'; id: string; chatId: string; clientMsgId: string; text?: string; fileKey?: string }
  | { type: 'typing'; chatId: string }
  | { type: 'read'; chatId: string; seq: number }
  | { type: 'sync'; chats: { chatId: string; lastSeq: number }[] }
  | { type: 'history'; id: string; chatId: string; before?: number; limit: number }
  | { type: 'ping' };
