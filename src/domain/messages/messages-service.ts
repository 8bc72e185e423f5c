/**
 * Sending, history and catch-up. The send path, in order:
 *   1. a retry (same sender + clientMsgId) answers with the original seq, nothing more;
 *   2. the daily message quota is counted (conditional update);
 *   3. a file message's upload is checked, its storage reserved and the object
 *      copied out of the pending prefix (the pending copy goes once the message is stored);
 *   4. the seq is allocated in one conditional update that also proves membership;
 *   5. the message and its idempotency record are written in one transaction;
 *   6. only then: ack to the sender and publish to the chat.
 * A failure after 2 gives back what 2 and 3 took. A failure after 4 leaves that seq
 * unused (a hole the clients skip, see docs/protocol.md); nothing is acked or
 * published that is not stored.
 */
import { chatNotFound, invalid, tooLarge, type Actor, type FileInfo, type Message } from '../../model/index.js';
import { previewOf } from '../../shared/preview.js';
import { isMember } from '../chats/chat-rules.js';
import type { ChatsRepository } from '../chats/ports.js';
import type { EventPublisher } from '../events/ports.js';
import type { MessageFiles, MessageQuota, MessageStore } from './ports.js';

export interface SendInput {
  chatId: string;
  clientMsgId: string;
  text?: string | undefined;
  fileKey?: string | undefined;
}

export interface SendResult {
  chatId: string;
  clientMsgId: string;
  seq: number;
  createdAt: number;
  duplicate: boolean;
}

export type SyncOutcome =
  | { chatId: string; status: 'synced'; messages: Message[]; lastSeq: number }
  | { chatId: string; status: 'too_far_behind'; lastSeq: number }
  | { chatId: string; status: 'not_found' };

/** Told the outcome of a send once it is durable, before anyone else hears of the message. */
export type Acknowledge = (result: SendResult) => void;

export interface MessagesService {
  /**
   * Stores one message and resolves with its seq. `acknowledge`, when given, is
   * called with the same result after the message is stored and before its
   * `message.stored` event is published, so the sender's own copy of the message
   * never overtakes its ack.
   */
  send(sender: Actor, input: SendInput, acknowledge?: Acknowledge): Promise<SendResult>;
  history(userId: string, chatId: string, before: number | undefined, limit: number): Promise<{ messages: Message[]; hasMore: boolean }>;
  sync(userId: string, positions: readonly { chatId: string; lastSeq: number }[]): Promise<SyncOutcome[]>;
}

export interface MessagesServiceDeps {
  chats: ChatsRepository;
  messages: MessageStore;
  quotas: MessageQuota;
  files: MessageFiles;
  events: EventPublisher;
  messageMaxLength: number;
  syncMaxMessages: number;
  clock: () => number;
  onBackgroundError: (err: unknown, what: string) => void;
}

export function createMessagesService(deps: MessagesServiceDeps): MessagesService {
  const { chats, messages, quotas, files, events, clock } = deps;

  function validate(input: SendInput): { text?: string; fileKey?: string } {
    const hasText = input.text !== undefined;
    const hasFile = input.fileKey !== undefined;
    if (hasText === hasFile) throw invalid('A message has either text or fileKey');
    if (hasText) {
      const text = input.text!;
      if (text.trim().length === 0) throw invalid('A message cannot be empty');
      const length = [...text].length;
      if (length > deps.messageMaxLength) {
        throw tooLarge(`A message has at most ${deps.messageMaxLength} characters`, {
          limit: deps.messageMaxLength,
          length,
        });
      }
      return { text };
    }
    return { fileKey: input.fileKey! };
  }

  function duplicateOf(input: SendInput, original: { chatId: string; seq: number; createdAt: number }): SendResult {
    if (original.chatId !== input.chatId) {
      throw invalid('This clientMsgId was already used for a message in another chat', { clientMsgId: input.clientMsgId });
    }
    return { chatId: input.chatId, clientMsgId: input.clientMsgId, seq: original.seq, createdAt: original.createdAt, duplicate: true };
  }

  function acknowledged(result: SendResult, acknowledge: Acknowledge | undefined): SendResult {
    acknowledge?.(result);
    return result;
  }

  function background(promise: Promise<unknown>, what: string) {
    promise.catch((err) => deps.onBackgroundError(err, what));
  }

  /** Waits for a clean-up step; its failure is logged, never thrown over the original outcome. */
  async function settle(promise: Promise<unknown>, what: string) {
    await promise.catch((err) => deps.onBackgroundError(err, what));
  }

  return {
    async send(sender, input, acknowledge) {
      const content = validate(input);
      const earlier = await messages.findSent(sender.userId, input.clientMsgId);
      if (earlier) return acknowledged(duplicateOf(input, earlier), acknowledge);

      // Counting pushes the new usage to the sender's sockets (the quotas service publishes it).
      await quotas.consumeMessage(sender.userId);
      let file: FileInfo | undefined;
      let persisted = false;
      let undoFile = true;
      try {
        if (content.fileKey !== undefined) file = await files.prepareFileMessage(sender.userId, input.chatId, content.fileKey);
        const now = clock();
        const seq = await chats.allocateSeq(input.chatId, sender.userId, previewOf({ text: content.text, fileName: file?.name }), now);
        if (seq === undefined) throw chatNotFound();
        const message: Message = {
          chatId: input.chatId,
          seq,
          senderId: sender.userId,
          clientMsgId: input.clientMsgId,
          kind: file ? 'file' : 'text',
          ...(content.text !== undefined ? { text: content.text } : {}),
          ...(file ? { file } : {}),
          createdAt: now,
        };
        const stored = await messages.append(message);
        if (stored.status === 'duplicate') {
          // Two copies of one send raced past the first check; the other one won and
          // its message holds the same file, so only this attempt's counts go back.
          undoFile = false;
          if (file) await settle(quotas.releaseStorage(sender.userId, file.size), 'release storage of a duplicate');
          return acknowledged(duplicateOf(input, stored.original), acknowledge);
        }
        persisted = true;
        // The upload in pending/ is only tidied now: until the message is stored, a retry may need it.
        if (file) background(files.commitFileMessage(file), 'tidy a sent upload');
        const result: SendResult = { chatId: input.chatId, clientMsgId: input.clientMsgId, seq, createdAt: now, duplicate: false };
        acknowledge?.(result);
        // Fan-out is not waited for: the message is durable, and an event the bus
        // loses comes back through sync.
        background(events.publish({ type: 'message.stored', message }), 'publish message');
        return result;
      } finally {
        if (!persisted) {
          // Given back before the sender hears the outcome, so the usage it sees next is right.
          await settle(quotas.refundMessage(sender.userId), 'refund message quota');
          if (file && undoFile) await settle(files.abortFileMessage(sender.userId, file), 'abort file message');
        }
      }
    },

    async history(userId, chatId, before, limit) {
      const chat = await chats.get(chatId);
      if (!chat || !isMember(chat, userId)) throw chatNotFound();
      return messages.page(chatId, before, limit);
    },

    async sync(userId, positions) {
      const found = new Map((await chats.getMany(positions.map((p) => p.chatId))).map((c) => [c.chatId, c]));
      return Promise.all(
        positions.map(async ({ chatId, lastSeq }): Promise<SyncOutcome> => {
          const chat = found.get(chatId);
          if (!chat || !isMember(chat, userId)) return { chatId, status: 'not_found' };
          // Read after the chat row: every seq up to chat.lastSeq is either returned,
          // still being written (it will arrive live: the socket is subscribed), or a hole.
          if (chat.lastSeq - lastSeq > deps.syncMaxMessages) return { chatId, status: 'too_far_behind', lastSeq: chat.lastSeq };
          if (chat.lastSeq <= lastSeq) return { chatId, status: 'synced', messages: [], lastSeq: chat.lastSeq };
          const missed = await messages.after(chatId, lastSeq, deps.syncMaxMessages);
          const highest = missed.at(-1)?.seq ?? 0;
          return { chatId, status: 'synced', messages: missed, lastSeq: Math.max(chat.lastSeq, highest) };
        }),
      );
    },
  };
}
