/**
 * The wire protocol: every frame a client may send and every frame the server
 * sends, as TypeBox schemas. HTTP routes reuse the same pieces (message, chat
 * summary, history query), so a rule lives in one place. docs/protocol.md shows
 * an example of each frame.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const ChatId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' });
export const Seq = Type.Integer({ minimum: 0 });
/** Client-chosen id of one outgoing message; a retry reuses it. */
export const ClientMsgId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** Optional correlation id a client puts on a frame; replies and errors echo it. */
const FrameId = Type.Optional(Type.String({ maxLength: 64 }));
export const HistoryLimit = Type.Integer({ minimum: 1, maximum: 100, default: 50 });

// ---------- client -> server ----------

export const SendFrame = Type.Object(
  {
    type: Type.Literal('send'),
    id: FrameId,
    chatId: ChatId,
    clientMsgId: ClientMsgId,
    text: Type.Optional(Type.String({ minLength: 1 })),
    fileKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const TypingFrame = Type.Object(
  { type: Type.Literal('typing'), id: FrameId, chatId: ChatId },
  { additionalProperties: false },
);

export const ReadFrame = Type.Object(
  { type: Type.Literal('read'), id: FrameId, chatId: ChatId, seq: Seq },
  { additionalProperties: false },
);

export const SyncFrame = Type.Object(
  {
    type: Type.Literal('sync'),
    id: FrameId,
    /** Last seq the client holds per chat; chats left out are not synced. */
    chats: Type.Array(Type.Object({ chatId: ChatId, lastSeq: Seq }, { additionalProperties: false }), {
      maxItems: 1000,
    }),
  },
  { additionalProperties: false },
);

export const HistoryFrame = Type.Object(
  {
    type: Type.Literal('history'),
    id: FrameId,
    chatId: ChatId,
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(HistoryLimit),
  },
  { additionalProperties: false },
);

export const PingFrame = Type.Object({ type: Type.Literal('ping'), id: FrameId }, { additionalProperties: false });

export const clientFrameSchemas = {
  send: SendFrame,
  typing: TypingFrame,
  read: ReadFrame,
  sync: SyncFrame,
  history: HistoryFrame,
  ping: PingFrame,
} as const satisfies Record<string, TSchema>;

export type ClientFrameType = keyof typeof clientFrameSchemas;
export type ClientFrame = { [K in ClientFrameType]: Static<(typeof clientFrameSchemas)[K]> }[ClientFrameType];
export type ClientFrameOf<K extends ClientFrameType> = Static<(typeof clientFrameSchemas)[K]>;

// ---------- shared shapes ----------

export const FileInfo = Type.Object({
  key: Type.String(),
  name: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  contentType: Type.String(),
});
export type FileInfo = Static<typeof FileInfo>;

export const Message = Type.Object({
  chatId: ChatId,
  seq: Seq,
  senderId: Type.String(),
  clientMsgId: Type.String(),
  kind: Type.Union([Type.Literal('text'), Type.Literal('file')]),
  text: Type.Optional(Type.String()),
  file: Type.Optional(FileInfo),
  /** Server time, epoch milliseconds. */
  createdAt: Type.Integer(),
});
export type Message = Static<typeof Message>;

export const Member = Type.Object({ userId: Type.String(), username: Type.String() });
export type Member = Static<typeof Member>;

export const ChatSummary = Type.Object({
  chatId: ChatId,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  title: Type.String(),
  createdBy: Type.String(),
  members: Type.Array(Member),
  lastSeq: Seq,
  /** The reader's own read position, and what that leaves unread. */
  readSeq: Seq,
  unread: Type.Integer({ minimum: 0 }),
  lastMessage: Type.Optional(
    Type.Object({ seq: Seq, senderId: Type.String(), preview: Type.String(), at: Type.Integer() }),
  ),
  /** Read position of every member, for receipts. */
  readPositions: Type.Record(Type.String(), Seq),
  updatedAt: Type.Integer(),
});
export type ChatSummary = Static<typeof ChatSummary>;

export const QuotaSummary = Type.Object({
  tier: Type.Union([Type.Literal('free'), Type.Literal('premium')]),
  messagesToday: Type.Integer({ minimum: 0 }),
  messagesPerDay: Type.Integer({ minimum: 0 }),
  /** When the daily message window starts again, epoch milliseconds (next UTC midnight). */
  resetsAt: Type.Integer(),
  storageBytes: Type.Integer({ minimum: 0 }),
  storageLimitBytes: Type.Integer({ minimum: 0 }),
});
export type QuotaSummary = Static<typeof QuotaSummary>;

export const PublicUser = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  email: Type.Optional(Type.String()),
  tier: Type.Union([Type.Literal('free'), Type.Literal('premium')]),
});
export type PublicUser = Static<typeof PublicUser>;

// ---------- server -> client ----------

export type ErrorCode =
  | 'bad_frame'
  | 'unknown_type'
  | 'invalid'
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'quota_exceeded'
  | 'unauthorized'
  | 'unavailable'
  | 'internal';

export type ServerFrame =
  | { type: 'hello'; nodeId: string; user: PublicUser; quota: QuotaSummary; chats: ChatSummary[]; serverTime: number }
  | { type: 'ack'; id?: string; chatId: string; clientMsgId: string; seq: number; createdAt: number; duplicate: boolean }
  | { type: 'message'; message: Message }
  | { type: 'typing'; chatId: string; userId: string; username: string }
  | { type: 'receipt'; chatId: string; userId: string; seq: number }
  | { type: 'presence'; userId: string; online: boolean }
  | { type: 'chat'; change: 'created' | 'updated' | 'removed'; chat: ChatSummary | { chatId: string } }
  | { type: 'synced'; id?: string; chatId: string; messages: Message[]; lastSeq: number }
  | { type: 'resync'; chatId?: string; reason: 'too_far_behind' | 'bus_reconnected' | 'slow_consumer'; lastSeq?: number }
  | { type: 'history'; id?: string; chatId: string; messages: Message[]; hasMore: boolean }
  | { type: 'quota'; quota: QuotaSummary }
  | { type: 'error'; id?: string; code: ErrorCode; message: string; frame?: string; details?: Record<string, unknown> }
  | { type: 'pong'; id?: string; serverTime: number };

export type ServerFrameType = ServerFrame['type'];

/** Frames a slow socket may miss without losing anything it cannot get back. */
export const EPHEMERAL_FRAMES: ReadonlySet<ServerFrameType> = new Set(['typing', 'presence']);
