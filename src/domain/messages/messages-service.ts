/**
 * Sending, history and catch-up. The send path:
 *   1. the input is checked (text or file, length);
 *   2. a file message's upload is checked, its storage reserved and the object
 *      copied out of the pending prefix (see the files service);
 *   3. the message joins the group commit (message-writer.ts): seq from the
 *      sequencer, then one atomic write of the message, its idempotency record and
 *      the sender's quota and membership check, shared with whatever else was queued;
 *   4. only then: ack to the sender (with their usage), and the `message.stored`
 *      event for everyone else.
 * A refusal after 2 gives back what 2 took. Nothing is acked or published that is
 * not stored; a seq allocated and not stored is a hole the clients skip.
 */
import { chatNotFound, invalid, tooLarge, type Actor, type FileInfo, type Message, type QuotaSummary } from '../../model/index.js';
import { utcDay } from '../quotas/quota-policy.js';
import { isMember } from '../chats/chat-rules.js';
import type { ChatsRepository } from '../chats/ports.js';
import type { EventPublisher } from '../events/ports.js';
import type { MessageWriter } from './message-writer.js';
import type { MessageFiles, MessageLog, Sequencer } from './ports.js';

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
  /** The sender's messages counted today after this one, when this instance knows it. */
  messagesToday?: number | undefined;
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
   * never overtakes its ack. `placed`, when given, is called once the message has
   * its place in the sender's order (queued for the group commit, or refused before
   * that): a later send of the same sender may start from then on and is still
   * stored after this one.
   */
  send(sender: Actor, input: SendInput, acknowledge?: Acknowledge, placed?: () => void): Promise<SendResult>;
  history(userId: string, chatId: string, before: number | undefined, limit: number): Promise<{ messages: Message[]; hasMore: boolean }>;
  /**
   * What the user missed in each chat. `knownChatIds` are chats the caller already
   * knows the user is in (a socket's list): positions outside it cost one read of
   * the user's chat list in all, never a read per chat, so naming a thousand chats
   * that are not yours costs as much as naming one.
   */
  sync(
    userId: string,
    positions: readonly { chatId: string; lastSeq: number }[],
    knownChatIds?: ReadonlySet<string>,
  ): Promise<SyncOutcome[]>;
  /** What the user's usage was at connect: lets the first send count against the right day. */
  noteUsage(userId: string, quota: QuotaSummary): void;
}

export interface MessagesServiceDeps {
  chats: Pick<ChatsRepository, 'get' | 'getMany' | 'chatIdsOf'>;
  log: MessageLog;
  writer: Pick<MessageWriter, 'write' | 'noteUsage'>;
  sequencer: Pick<Sequencer, 'current'>;
  files: MessageFiles;
  events: EventPublisher;
  messageMaxLength: number;
  syncMaxMessages: number;
  clock: () => number;
  onBackgroundError: (err: unknown, what: string) => void;
}

export function createMessagesService(deps: MessagesServiceDeps): MessagesService {
  const { chats, log, writer, files, events } = deps;

  function validate(input: SendInput): { text?: string; fileKey?: string } {
    const hasText = input.text !== undefined;
    const hasFile = input.fileKey !== undefined;
    if (hasText === hasFile) throw invalid('A message has either text or fileKey');
    if (hasText) {
      const text = input.text!;
      if (text.trim().length === 0) throw invalid('A message cannot be empty');
      const length = [...text].length;
      if (length > deps.messageMaxLength) {
        throw tooLarge(`A message has at most ${deps.messageMaxLength} characters`, { limit: deps.messageMaxLength, length });
      }
      return { text };
    }
    return { fileKey: input.fileKey! };
  }

  function background(promise: Promise<unknown>, what: string) {
    promise.catch((err) => deps.onBackgroundError(err, what));
  }

  /** Waits for a clean-up step; its failure is logged, never thrown over the original outcome. */
  async function settle(promise: Promise<unknown>, what: string) {
    await promise.catch((err) => deps.onBackgroundError(err, what));
  }

  return {
    async send(sender, input, acknowledge, placed) {
      let file: FileInfo | undefined;
      let writing: ReturnType<typeof writer.write>;
      try {
        const content = validate(input);
        if (content.fileKey !== undefined) file = await files.prepareFileMessage(sender.userId, input.chatId, content.fileKey);
        // The writer queues synchronously: from here on this send's place is taken.
        writing = writer.write({ sender, chatId: input.chatId, clientMsgId: input.clientMsgId, text: content.text, file });
      } finally {
        placed?.();
      }
      let written;
      try {
        written = await writing;
      } catch (err) {
        // Refused or not stored: what the upload took is given back before the sender hears.
        if (file) await settle(files.abortFileMessage(sender.userId, file), 'abort file message');
        throw err;
      }
      if (written.status === 'duplicate') {
        // A retry of a stored send: its first copy holds the file, so this copy's goes back.
        if (file) await settle(files.abortFileMessage(sender.userId, file), 'give back the upload of a duplicate');
        const { original } = written;
        const result: SendResult = {
          chatId: input.chatId,
          clientMsgId: input.clientMsgId,
          seq: original.seq,
          createdAt: original.createdAt,
          duplicate: true,
        };
        acknowledge?.(result);
        return result;
      }
      const { message } = written;
      // The upload in pending/ is only tidied now: until the message is stored, a retry may need it.
      if (file) background(files.commitFileMessage(file), 'tidy a sent upload');
      const result: SendResult = {
        chatId: message.chatId,
        clientMsgId: message.clientMsgId,
        seq: message.seq,
        createdAt: message.createdAt,
        duplicate: false,
        messagesToday: written.messagesToday,
      };
      acknowledge?.(result);
      // Fan-out is not waited for: the message is durable, and an event the bus
      // loses comes back through sync.
      background(events.publish({ type: 'message.stored', message }), 'publish message');
      return result;
    },

    noteUsage(userId, quota) {
      // A count above zero belongs to today (the summary counts other days as zero).
      if (quota.messagesToday > 0) writer.noteUsage(userId, utcDay(deps.clock()), quota.messagesToday);
    },

    async history(userId, chatId, before, limit) {
      const chat = await chats.get(chatId);
      if (!chat || !isMember(chat, userId)) throw chatNotFound();
      return log.page(chatId, before, limit);
    },

    async sync(userId, requested, knownChatIds) {
      // One answer per chat, however often a frame names it.
      const positions = [...new Map(requested.map((p) => [p.chatId, p])).values()];
      const unknown = positions.filter((p) => !knownChatIds?.has(p.chatId));
      const mine = unknown.length > 0 ? new Set(await chats.chatIdsOf(userId)) : undefined;
      const ids = positions.map((p) => p.chatId).filter((id) => knownChatIds?.has(id) || mine?.has(id));
      const [found, handedOut] = await Promise.all([
        chats.getMany(ids).then((list) => new Map(list.map((c) => [c.chatId, c]))),
        deps.sequencer.current(ids),
      ]);
      return Promise.all(
        positions.map(async ({ chatId, lastSeq }): Promise<SyncOutcome> => {
          const chat = found.get(chatId);
          if (!chat || !isMember(chat, userId)) return { chatId, status: 'not_found' };
          // Nothing was handed out past what the client holds: nothing to read.
          const current = handedOut.get(chatId);
          if (current !== undefined && current <= lastSeq) return { chatId, status: 'synced', messages: [], lastSeq };
          // The messages themselves decide (the chat row may lag): one more than allowed
          // tells "too far behind" from "exactly the limit".
          const missed = await log.after(chatId, lastSeq, deps.syncMaxMessages + 1);
          if (missed.length > deps.syncMaxMessages) {
            // Where the chat stands, for the client to reload its latest page from.
            return { chatId, status: 'too_far_behind', lastSeq: Math.max(chat.lastSeq, current ?? 0, missed.at(-1)!.seq) };
          }
          return { chatId, status: 'synced', messages: missed, lastSeq: Math.max(lastSeq, missed.at(-1)?.seq ?? 0) };
        }),
      );
    },
  };
}
