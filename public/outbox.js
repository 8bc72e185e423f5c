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

/** A fresh id matching the protocol's `^[A-Za-z0-9_-]{1,64}$`. */
export function newClientMsgId() {
  const bytes = new Uint8Array(16);
  // getRandomValues works on plain-http pages too, where randomUUID does not exist.
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  /** @param {{ newId?: () => string, now?: () => number }} [options] */
  constructor({ newId = newClientMsgId, now = Date.now } = {}) {
    this.newId = newId;
    this.now = now;
    /** @type {Map<string, any>} in the order the user wrote them */
    this.entries = new Map();
  }

  /** @param {string} chatId @param {{ text?: string, fileKey?: string, file?: any }} content */
  add(chatId, content) {
    const entry = {
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

  get(clientMsgId) {
    return this.entries.get(clientMsgId);
  }

  /** The `send` frame for an entry; `id` echoes the clientMsgId so errors find their way back. */
  frameFor(entry) {
    const frame = { type: 'send', id: entry.clientMsgId, chatId: entry.chatId, clientMsgId: entry.clientMsgId };
    if (entry.fileKey) frame.fileKey = entry.fileKey;
    else frame.text = entry.text;
    return frame;
  }

  /** Entries still waiting for an ack, oldest first. */
  unacked() {
    return [...this.entries.values()].filter((entry) => entry.status === 'pending');
  }

  forChat(chatId) {
    return [...this.entries.values()].filter((entry) => entry.chatId === chatId);
  }

  ack(clientMsgId, seq, createdAt) {
    const entry = this.entries.get(clientMsgId);
    if (!entry) return undefined;
    entry.status = 'sent';
    entry.seq = seq;
    entry.createdAt = createdAt;
    entry.error = null;
    return entry;
  }

  fail(clientMsgId, error) {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status === 'sent') return undefined;
    entry.status = 'failed';
    entry.error = error;
    return entry;
  }

  /** Back to pending, same clientMsgId: a retry the server can recognise. */
  retry(clientMsgId) {
    const entry = this.entries.get(clientMsgId);
    if (!entry || entry.status !== 'failed') return undefined;
    entry.status = 'pending';
    entry.error = null;
    return entry;
  }

  remove(clientMsgId) {
    return this.entries.delete(clientMsgId);
  }

  removeChat(chatId) {
    for (const entry of this.forChat(chatId)) this.entries.delete(entry.clientMsgId);
  }

  /** Drops acked entries the timeline now shows (`isShown(seq)`). */
  settle(chatId, isShown) {
    let settled = 0;
    for (const entry of this.forChat(chatId)) {
      if (entry.status === 'sent' && isShown(entry.seq)) {
        this.entries.delete(entry.clientMsgId);
        settled += 1;
      }
    }
    return settled;
  }
}
