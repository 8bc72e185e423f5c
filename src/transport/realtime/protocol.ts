/**
 * The wire protocol: every frame a client may send and every frame the server
 * sends. Client frames are TypeBox schemas (each frame is validated before it is
 * handled); server frames are types built from the domain model. HTTP routes reuse
 * the same field schemas (`../schemas.js`), so a rule lives in one place.
 * docs/protocol.md shows an example of each frame.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ChatSummary, ErrorCode, Message, PublicUser, QuotaSummary } from '../../model/index.js';
import { SYNC_MAX_CHATS } from '../../shared/frames.js';
import { ChatId, ClientMsgId, FrameId, HistoryBefore, HistoryLimit, SeqField } from '../schemas.js';

// ---------- client -> server

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

export const TypingFrame = Type.Object({ type: Type.Literal('typing'), id: FrameId, chatId: ChatId }, { additionalProperties: false });

export const ReadFrame = Type.Object(
  { type: Type.Literal('read'), id: FrameId, chatId: ChatId, seq: SeqField },
  { additionalProperties: false },
);

export const SyncFrame = Type.Object(
  {
    type: Type.Literal('sync'),
    id: FrameId,
    /** Last seq the client holds per chat; chats left out are not synced. */
    chats: Type.Array(Type.Object({ chatId: ChatId, lastSeq: SeqField }, { additionalProperties: false }), {
      maxItems: SYNC_MAX_CHATS,
    }),
  },
  { additionalProperties: false },
);

export const HistoryFrame = Type.Object(
  {
    type: Type.Literal('history'),
    id: FrameId,
    chatId: ChatId,
    before: Type.Optional(HistoryBefore),
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

// ---------- server -> client

export type ServerFrame =
  | {
      type: 'hello';
      nodeId: string;
      user: PublicUser;
      quota: QuotaSummary;
      chats: ChatSummary[];
      /** The limits this deployment enforces, so a client can check before it sends or uploads. */
      limits: ClientLimits;
      serverTime: number;
    }
  | {
      type: 'ack';
      id?: string;
      chatId: string;
      clientMsgId: string;
      seq: number;
      createdAt: number;
      duplicate: boolean;
      /** The sender's messages counted today, this one included (absent when the server does not know). */
      messagesToday?: number;
    }
  | { type: 'message'; message: Message }
  | { type: 'typing'; chatId: string; userId: string; username: string }
  | { type: 'receipt'; chatId: string; userId: string; seq: number }
  | { type: 'presence'; userId: string; online: boolean }
  | { type: 'chat'; change: 'created' | 'updated' | 'removed'; chat: ChatSummary | { chatId: string } }
  | { type: 'synced'; id?: string; chatId: string; messages: Message[]; lastSeq: number }
  | { type: 'resync'; chatId?: string; reason: 'too_far_behind' | 'bus_reconnected'; lastSeq?: number }
  | { type: 'history'; id?: string; chatId: string; messages: Message[]; hasMore: boolean }
  | { type: 'quota'; quota: QuotaSummary }
  | { type: 'error'; id?: string; code: ErrorCode; message: string; frame?: string; details?: Record<string, unknown> }
  | { type: 'pong'; id?: string; serverTime: number };

export type ServerFrameType = ServerFrame['type'];

/**
 * Frames between instances that no client ever sees: the hub acts on them where it
 * holds the sockets concerned and forwards nothing.
 */
export type ControlFrame = { type: 'session_ended'; sessionHash: string };

/** What the bus carries: frames for sockets, and control frames for the hubs. */
export type FanoutFrame = ServerFrame | ControlFrame;

export interface ClientLimits {
  messageMaxLength: number;
  fileMaxBytes: number;
  /** Media types (`image/png`) or families (`image/*`) an upload may have. */
  fileTypes: readonly string[];
  groupMaxMembers: number;
}
