import { Type, type Static } from '@sinclair/typebox';
import { ChatId } from '../realtime/protocol.js';

export const FileChatParams = Type.Object({ chatId: ChatId });

/** What the browser knows of a picked file: `File.name`, `File.type`, `File.size`. */
export const UploadBody = Type.Object(
  {
    // Generous here: the service keeps only the last path segment and checks its length.
    name: Type.String({ minLength: 1, maxLength: 1024 }),
    type: Type.String({ minLength: 1, maxLength: 255 }),
    size: Type.Integer({ minimum: 1 }),
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

export type FileChatParams = Static<typeof FileChatParams>;
export type UploadBody = Static<typeof UploadBody>;
export type DownloadQuery = Static<typeof DownloadQuery>;
