/** Request and reply schemas of the HTTP API; field rules come from `../schemas.js` and the model. */
import { Type, type Static } from '@sinclair/typebox';
import { ChatSummary, Message } from '../../model/index.js';
import { GROUP_TITLE_MAX } from '../../shared/frames.js';
import { ChatId, HistoryBefore, HistoryLimit, SafeInteger } from '../schemas.js';

const Username = Type.String({ minLength: 1, maxLength: 64 });

// ---------- chats

export const ChatParams = Type.Object({ chatId: ChatId });
export const MemberParams = Type.Object({ chatId: ChatId, userId: Type.String({ minLength: 1, maxLength: 128 }) });
export const OpenDirectBody = Type.Object({ username: Username }, { additionalProperties: false });
export const CreateGroupBody = Type.Object(
  { title: Type.String({ minLength: 1, maxLength: GROUP_TITLE_MAX }), members: Type.Array(Username, { maxItems: 200 }) },
  { additionalProperties: false },
);
export const AddMemberBody = Type.Object({ username: Username }, { additionalProperties: false });
export const HistoryQuery = Type.Object(
  { before: Type.Optional(HistoryBefore), limit: Type.Optional(HistoryLimit) },
  { additionalProperties: false },
);

export const ChatReply = Type.Object({ chat: ChatSummary });
export const ChatListReply = Type.Object({ chats: Type.Array(ChatSummary) });
export const HistoryReply = Type.Object({ messages: Type.Array(Message), hasMore: Type.Boolean() });

export type ChatParams = Static<typeof ChatParams>;
export type MemberParams = Static<typeof MemberParams>;
export type OpenDirectBody = Static<typeof OpenDirectBody>;
export type CreateGroupBody = Static<typeof CreateGroupBody>;
export type AddMemberBody = Static<typeof AddMemberBody>;
export type HistoryQuery = Static<typeof HistoryQuery>;

// ---------- files

/** What the browser knows of a picked file: `File.name`, `File.type`, `File.size`. */
export const UploadBody = Type.Object(
  {
    // Generous here: the service keeps only the last path segment and checks its length.
    name: Type.String({ minLength: 1, maxLength: 1024 }),
    type: Type.String({ minLength: 1, maxLength: 255 }),
    size: SafeInteger({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const UploadReply = Type.Object({
  fileKey: Type.String(),
  upload: Type.Object({
    method: Type.Literal('PUT'),
    url: Type.String(),
    /** Send exactly these headers with a body of exactly `size` bytes. */
    headers: Type.Record(Type.String(), Type.String()),
  }),
  /** Epoch milliseconds after which the upload URL is refused. */
  expiresAt: Type.Integer(),
});

export const DownloadQuery = Type.Object({ key: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });
export const DownloadReply = Type.Object({ url: Type.String(), expiresAt: Type.Integer() });

export type UploadBody = Static<typeof UploadBody>;
export type DownloadQuery = Static<typeof DownloadQuery>;
