/** A chat as one member sees it in their list. */
import { Type, type Static } from '@sinclair/typebox';
import { Seq } from './message.js';

export const ChatKind = Type.Union([Type.Literal('direct'), Type.Literal('group')]);
export type ChatKind = Static<typeof ChatKind>;

export const Member = Type.Object({ userId: Type.String(), username: Type.String() });
export type Member = Static<typeof Member>;

export const LastMessage = Type.Object({ seq: Seq, senderId: Type.String(), preview: Type.String(), at: Type.Integer() });
export type LastMessage = Static<typeof LastMessage>;

export const ChatSummary = Type.Object({
  chatId: Type.String(),
  kind: ChatKind,
  /** A direct chat is titled after the other person. */
  title: Type.String(),
  createdBy: Type.String(),
  members: Type.Array(Member),
  lastSeq: Seq,
  /** The reader's own read position, and what that leaves unread. */
  readSeq: Seq,
  unread: Type.Integer({ minimum: 0 }),
  lastMessage: Type.Optional(LastMessage),
  /** Read position of every member, for receipts. */
  readPositions: Type.Record(Type.String(), Seq),
  updatedAt: Type.Integer(),
});
export type ChatSummary = Static<typeof ChatSummary>;
