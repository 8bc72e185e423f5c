/**
 * Messages the user sent that the server has not confirmed yet.
 *
 * Each gets a `clientMsgId` once, when it is written. Until its `ack` arrives it is
 * `pending` and is sent again, with the same id, on every new connection: the
 * server stores a message once per (sender, clientMsgId) and answers a retry with
 * the original seq, so a lost ack never makes a duplicate. An `error` for it makes
 * it `failed` (kept, with the reason, until the user retries or discards it).
 * After the ack it stays `sent` until the chat's timeline shows its seq.
 */

import type { ClientFrame, ErrorInfo, FileInfo } from './wire.js';

export interface OutboxEntry {
  clientMsgId: string;
  chatId: string;
  text?: string | undefined;
  fileKey?: string | undefined;
  file?: Omit<FileInfo, 'key'> | undefined;
  status: 'pending' | 'sent' | 'failed';
  seq: number | null;
  createdAt: number | null;
  error: ErrorInfo | null;
  writtenAt: number;
}

export interface OutboxContent {
  text?: string | undefined;
  fileKey?: string | undefined;
  file?: Omit<FileInfo, 'key'> | undefined;
}

/** A fresh id matching the protocol's `^[A-Za-z0-9_-]{1,64}$`. */
export function newClientMsgId(): string {
  const bytes = new Uint8Array(16);
  // getRandomValues works on plain-http pages too, where randomUUID does not exist.
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  private readonly newId: () => string;
  private readonly now: () => number;
  /** In the order the user wrote them. */
  private readonly entries = new Map<string, OutboxEntry>();

  constructor({ newId = newClientMsgId, now = Date.now }: { newId?: () => string; now?: () => number } = {}) {
    this.newId = newId;
    this.now = now;
  }

  add(chatId: string, content: OutboxContent): OutboxEntry {
    const entry: OutboxEntry = {
      clientMsgId: this.newId(),
      chatId,
      text: content.text,
      fileKey: content.fileKey,
      file: content.file,
      status: 'pending',
      seq: null,
      createdAt: null,
      error: null,
      writtenAt: this.now(),
    };
    this.entries.set(entry.clientMsgId, entry);
    return entry;
  }

  get(clientMsgId: string): OutboxEntry | undefined {
    return this.entries.get(clientMsgId);
  }

  /** The `send` frame for an entry; `id` echoes the clientMsgId so errors find their way back. */
  frameFor(entry: OutboxEntry): ClientFrame & { type: 'send' } {
    const frame: ClientFrame & { type: 'send' } = {
      type: 'send',
      id: entry.clientMsgId,
      chatId: entry.chatId,
      clientMsgId: entry.clientMsgId,
    };
    if (entry.fileKey) frame.fileKey = entry.fileKey;
    else frame.text = entry.text;
    return frame;
  }

  /** Entries still waiting for an ack, oldest first. */
  unacked(): OutboxEntry[] {
    return [...this.entries.values()].filter((entry) => entry.status === 'pending');
  }

  forChat(chatId: string): OutboxEntry[] {
    return [...this.entries.values()].filter((entry) => entry.chatId === chatId);
  }

  ack(clientMsgId: string, seq: number, createdAt: number): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry) return undefined;
    entry.status = 'sent';
    entry.seq = seq;
    entry.createdAt = createdAt;
    entry.error = null;
    return entry;
  }

  fail(clientMsgId: string, error: ErrorInfo): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status === 'sent') return undefined;
    entry.status = 'failed';
    entry.error = error;
    return entry;
  }

  /** Back to pending, same clientMsgId: a retry the server can recognise. */
  retry(clientMsgId: string): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status !== 'failed') return undefined;
    entry.status = 'pending';
    entry.error = null;
    return entry;
  }

  remove(clientMsgId: string): boolean {
    return this.entries.delete(clientMsgId);
  }

  removeChat(chatId: string): void {
    for (const entry of this.forChat(chatId)) this.entries.delete(entry.clientMsgId);
  }

  /** Drops acked entries the timeline now shows (`isShown(seq)`). */
  settle(chatId: string, isShown: (seq: number) => boolean): number {
    let settled = 0;
    for (const entry of this.forChat(chatId)) {
      if (entry.status === 'sent' && entry.seq !== null && isShown(entry.seq)) {
        this.entries.delete(entry.clientMsgId);
        settled += 1;
      }
    }
    return settled;
  }
}
