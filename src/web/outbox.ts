/**
 * Messages the user sent that the server has not confirmed yet.
 *
 * Each gets a `clientMsgId` once, when it is written. Until its `ack` arrives it is
 * `pending` and is sent again, with the same id, on every new connection: the
 * server stores a message once per (sender, clientMsgId) and answers a retry with
 * the original seq, so a lost ack never makes a duplicate. An `error` for it makes
 * it `failed` (kept, with the reason, until the user retries or discards it).
 * After the ack it stays `sent` until the chat's timeline shows its seq.
 *
 * A file starts as `uploading` (with its progress) before it has a fileKey: it shows
 * in the conversation at once, so a refusal (type, size, storage quota, not a member)
 * or a cancel lands on the message it concerns. Nothing is sent for it until the
 * upload finishes and it becomes `pending`; a failed upload has nothing to send
 * again, so it can only be discarded (and the file attached anew).
 */

import type { ClientFrame, ErrorInfo, FileInfo } from './wire.js';

export interface OutboxEntry {
  clientMsgId: string;
  chatId: string;
  text?: string | undefined;
  fileKey?: string | undefined;
  file?: Omit<FileInfo, 'key'> | undefined;
  status: 'uploading' | 'pending' | 'sent' | 'failed';
  /** While uploading: the fraction of the bytes the file store has received. */
  progress: number | null;
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
      progress: null,
      seq: null,
      createdAt: null,
      error: null,
      writtenAt: this.now(),
    };
    this.entries.set(entry.clientMsgId, entry);
    return entry;
  }

  /** A file on its way to the file store: shown, not sent, until `uploaded`. */
  addUpload(chatId: string, file: Omit<FileInfo, 'key'>): OutboxEntry {
    const entry = this.add(chatId, { file });
    entry.status = 'uploading';
    entry.progress = 0;
    return entry;
  }

  uploadProgress(clientMsgId: string, fraction: number): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status !== 'uploading') return undefined;
    entry.progress = Math.min(1, Math.max(0, fraction));
    return entry;
  }

  /** The bytes are stored under `fileKey`: the message can be sent. */
  uploaded(clientMsgId: string, fileKey: string): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status !== 'uploading') return undefined;
    entry.status = 'pending';
    entry.fileKey = fileKey;
    entry.progress = null;
    return entry;
  }

  /** Whether Retry can send it again: a file that never reached the store cannot. */
  canRetry(entry: OutboxEntry): boolean {
    return entry.status === 'failed' && (entry.text !== undefined || entry.fileKey !== undefined);
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
    entry.progress = null;
    return entry;
  }

  /** Back to pending, same clientMsgId: a retry the server can recognise. */
  retry(clientMsgId: string): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId);
    if (!entry || !this.canRetry(entry)) return undefined;
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
