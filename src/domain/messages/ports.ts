/**
 * What sending and reading messages need from outside: the message log, the
 * per-chat sequencer, and the part of the files service a send uses.
 * Adapters: `adapters/dynamodb/message-log.ts`, `adapters/redis/redis-sequencer.ts`,
 * `adapters/memory/memory-sequencer.ts`.
 */
import type { FileInfo, Message } from '../../model/index.js';

/** What a retried `send` needs to answer with the original result. */
export interface SentRecord {
  chatId: string;
  seq: number;
  createdAt: number;
}

export interface SendKey {
  senderId: string;
  clientMsgId: string;
}

/** How a sender's daily counter is moved by one commit. */
export type DailyCount =
  /** The counter already belongs to `day`: add to it. */
  | { form: 'add'; day: string; count: number }
  /** The counter belongs to another day (or none yet): start `day` at `count`. */
  | { form: 'start'; day: string; count: number };

/**
 * What one sender's messages in a commit must be allowed: membership of every chat
 * they write to, and room in their daily quota for `count.count` more (their tier
 * is read by the condition itself).
 */
export interface SenderCharge {
  userId: string;
  chatIds: readonly string[];
  count: DailyCount;
}

export interface DailyLimits {
  free: number;
  premium: number;
}

export interface Commit {
  messages: readonly Message[];
  charges: readonly SenderCharge[];
  limits: DailyLimits;
  /**
   * Identifies this exact commit: repeating it with the same token after a lost
   * answer applies it at most once.
   */
  token: string;
  /**
   * Fires at the commit's deadline: a request still in flight then is abandoned (its
   * outcome unknown, reported as a `RetryableStoreError`) instead of waiting on a
   * connection that may never answer.
   */
  signal?: AbortSignal | undefined;
}

/** What the store knew of a sender when their charge was refused. */
export interface SenderState {
  userId: string;
  tier: 'free' | 'premium';
  chatIds: ReadonlySet<string>;
  /** UTC day the counter belongs to, if any. */
  quotaDay?: string | undefined;
  messagesToday: number;
}

export type CommitOutcome =
  | { status: 'committed' }
  /**
   * Nothing was written: these parts of the commit were refused by their
   * conditions (each list may be empty). Retrying the rest, adjusted, is up to the caller.
   */
  | {
      status: 'refused';
      /** Sends whose idempotency record already exists. */
      duplicates: SendKey[];
      /** Senders whose charge failed, with their row as the store held it (absent: no such user). */
      senders: { userId: string; state: SenderState | undefined }[];
      /** Chats where a message's seq was already taken (the sequencer lost count). */
      seqTaken: string[];
    };

/**
 * Messages and their idempotency records in DynamoDB.
 *
 * Contract of `commit`: one atomic write of every message, its idempotency record
 * (sender + clientMsgId, conditioned on absence), and each sender's charge
 * (conditioned on membership of the chats and on the daily limit of their tier).
 * Either all of it is stored, or nothing is and the outcome says which conditions
 * failed. Infrastructure failures (throttling, conflicts, timeouts) throw a
 * `RetryableStoreError`; repeating the same commit (same token) is then safe.
 */
export interface MessageLog {
  commit(commit: Commit): Promise<CommitOutcome>;
  /** The idempotency records of these sends, keyed `senderId\nclientMsgId`. */
  findSent(keys: readonly SendKey[]): Promise<Map<string, SentRecord>>;
  /** The highest seq stored for the chat (0 for none): where a lost sequencer starts again. */
  highestSeq(chatId: string): Promise<number>;
  /** Messages with seq < before (or the newest), newest `limit`, returned in ascending seq. */
  page(chatId: string, before: number | undefined, limit: number): Promise<{ messages: Message[]; hasMore: boolean }>;
  /** Messages with seq > after, ascending, at most `limit`. */
  after(chatId: string, after: number, limit: number): Promise<Message[]>;
}

export const sendKeyOf = (key: SendKey): string => `${key.senderId}\n${key.clientMsgId}`;

/** A store failure worth repeating: throttling, a transaction conflict, a timeout, a dropped connection. */
export class RetryableStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableStoreError';
  }
}

/**
 * Hands out each chat's seqs. Shared by every instance (Redis), or held by the one
 * instance (memory).
 *
 * Contract: `allocate` returns, per chat, the first of `count` consecutive seqs
 * nobody else got from this sequencer, or `undefined` when the chat's counter is
 * unknown (new, expired, or lost with Redis's data) and must be `seed`ed first.
 * The sequencer may lose count (a Redis restart or failover): the message log's
 * condition on each message's key is what guarantees no seq is stored twice, and
 * a caller that sees a seq taken seeds the counter past the highest stored seq.
 */
export interface Sequencer {
  allocate(requests: readonly { chatId: string; count: number }[]): Promise<Map<string, number | undefined>>;
  /** Raises the chat's counter to at least `atLeast` (creating it if missing). */
  seed(chatId: string, atLeast: number): Promise<void>;
  /** Gives back `count` seqs ending at `last` if nobody was given a later one meanwhile (fewer holes). */
  release(chatId: string, last: number, count: number): Promise<void>;
  /** The last seq handed out per chat, where known. */
  current(chatIds: readonly string[]): Promise<Map<string, number | undefined>>;
}

/** The part of the files service a file message needs. */
export interface MessageFiles {
  prepareFileMessage(userId: string, chatId: string, fileKey: string): Promise<FileInfo>;
  commitFileMessage(file: FileInfo): Promise<void>;
  abortFileMessage(userId: string, file: FileInfo): Promise<void>;
}
