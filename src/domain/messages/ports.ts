import type { FileInfo, Message, QuotaSummary } from '../../model/index.js';

/** What a retried `send` needs to answer with the original result. */
export interface SentRecord {
  chatId: string;
  seq: number;
  createdAt: number;
}

export type AppendResult = { status: 'stored' } | { status: 'duplicate'; original: SentRecord };

/**
 * Storage of messages. `append` writes the message and its idempotency record
 * (sender + clientMsgId) in one transaction: either both exist afterwards or
 * neither, and a second append with the same sender and clientMsgId stores nothing
 * and returns the first one's record.
 */
export interface MessageStore {
  findSent(senderId: string, clientMsgId: string): Promise<SentRecord | undefined>;
  append(message: Message): Promise<AppendResult>;
  /** Messages with seq < before (or the newest), newest `limit`, returned in ascending seq. */
  page(chatId: string, before: number | undefined, limit: number): Promise<{ messages: Message[]; hasMore: boolean }>;
  /** Messages with seq > after, ascending, at most `limit`. */
  after(chatId: string, after: number, limit: number): Promise<Message[]>;
}

/** The part of the quotas service sending needs. */
export interface MessageQuota {
  consumeMessage(userId: string): Promise<QuotaSummary>;
  refundMessage(userId: string): Promise<void>;
  releaseStorage(userId: string, bytes: number): Promise<void>;
}

/** The part of the files service a file message needs. */
export interface MessageFiles {
  prepareFileMessage(userId: string, chatId: string, fileKey: string): Promise<FileInfo>;
  commitFileMessage(file: FileInfo): Promise<void>;
  abortFileMessage(userId: string, file: FileInfo): Promise<void>;
}
