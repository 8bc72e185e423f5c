import { Type, type Static } from '@sinclair/typebox';
import { ChatId, ChatSummary, HistoryLimit, Message } from '../realtime/protocol.js';

const Username = Type.String({ minLength: 1, maxLength: 64 });

export const ChatParams = Type.Object({ chatId: ChatId });
export const MemberParams = Type.Object({ chatId: ChatId, userId: Type.String({ minLength: 1, maxLength: 128 }) });
export const OpenDirectBody = Type.Object({ username: Username }, { additionalProperties: false });
export const CreateGroupBody = Type.Object(
  { title: Type.String({ minLength: 1, maxLength: 100 }), members: Type.Array(Username, { maxItems: 200 }) },
  { additionalProperties: false },
);
export const AddMemberBody = Type.Object({ username: Username }, { additionalProperties: false });
export const HistoryQuery = Type.Object(
  { before: Type.Optional(Type.Integer({ minimum: 1 })), limit: Type.Optional(HistoryLimit) },
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
