/**
 * A message as huddle stores and shows it. The schema is the single definition:
 * the type is derived from it, and the wire protocol and HTTP replies reuse it.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Order within a chat; 1 is the first message, 0 means "none yet". */
export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const FileInfo = Type.Object({
  key: Type.String(),
  name: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  contentType: Type.String(),
});
export type FileInfo = Static<typeof FileInfo>;

export const MessageKind = Type.Union([Type.Literal('text'), Type.Literal('file')]);
export type MessageKind = Static<typeof MessageKind>;

export const Message = Type.Object({
  chatId: Type.String(),
  seq: Seq,
  senderId: Type.String(),
  clientMsgId: Type.String(),
  kind: MessageKind,
  text: Type.Optional(Type.String()),
  file: Type.Optional(FileInfo),
  /** Server time, epoch milliseconds. */
  createdAt: Type.Integer(),
});
export type Message = Static<typeof Message>;
