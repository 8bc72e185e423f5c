/**
 * What each client frame does: a thin mapping from a validated frame to a service
 * call and the frames that answer it. Authorization lives in the services.
 */
import { chatNotFound } from '../../model/errors.js';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { ChatEvents } from '../../domain/events/chat-events.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import type { Connection } from './client-connection.js';
import type { ClientFrame, ClientFrameOf, ClientFrameType } from './protocol.js';

const TYPING_MIN_INTERVAL_MS = 2_000;
const DEFAULT_HISTORY_LIMIT = 50;

export interface FrameHandlerDeps {
  chats: ChatsService;
  messages: MessagesService;
  events: ChatEvents;
  clock: () => number;
}

type Handlers = { [K in ClientFrameType]: (connection: Connection, frame: ClientFrameOf<K>) => Promise<void> };

export function createFrameHandlers(deps: FrameHandlerDeps) {
  const lastTyping = new Map<string, number>();
  const actorOf = (connection: Connection) => ({ userId: connection.user.userId, username: connection.user.username });

  const handlers: Handlers = {
    async send(connection, frame) {
      const result = await deps.messages.send(actorOf(connection), frame);
      connection.send({
        type: 'ack',
        ...(frame.id !== undefined ? { id: frame.id } : {}),
        chatId: result.chatId,
        clientMsgId: result.clientMsgId,
        seq: result.seq,
        createdAt: result.createdAt,
        duplicate: result.duplicate,
      });
    },

    async typing(connection, frame) {
      // The socket's chat list is kept current by chat events; typing is too frequent
      // and too unimportant to ask the database each time.
      if (!connection.chatIds.has(frame.chatId)) throw chatNotFound();
      const key = `${connection.user.userId}|${frame.chatId}`;
      const now = deps.clock();
      if (now - (lastTyping.get(key) ?? 0) < TYPING_MIN_INTERVAL_MS) return;
      lastTyping.set(key, now);
      if (lastTyping.size > 10_000) {
        for (const [k, at] of lastTyping) if (now - at > TYPING_MIN_INTERVAL_MS) lastTyping.delete(k);
      }
      await deps.events.toChat(frame.chatId, {
        type: 'typing',
        chatId: frame.chatId,
        userId: connection.user.userId,
        username: connection.user.username,
      });
    },

    async read(connection, frame) {
      await deps.chats.markRead(actorOf(connection), frame.chatId, frame.seq);
    },

    async sync(connection, frame) {
      const outcomes = await deps.messages.sync(connection.user.userId, frame.chats);
      const id = frame.id !== undefined ? { id: frame.id } : {};
      for (const outcome of outcomes) {
        if (outcome.status === 'synced') {
          connection.send({ type: 'synced', ...id, chatId: outcome.chatId, messages: outcome.messages, lastSeq: outcome.lastSeq });
        } else if (outcome.status === 'too_far_behind') {
          connection.send({ type: 'resync', chatId: outcome.chatId, reason: 'too_far_behind', lastSeq: outcome.lastSeq });
        } else {
          const refusal = chatNotFound();
          connection.send({ type: 'error', ...id, code: refusal.code, message: refusal.message, frame: 'sync', details: { chatId: outcome.chatId } });
        }
      }
    },

    async history(connection, frame) {
      const page = await deps.messages.history(connection.user.userId, frame.chatId, frame.before, frame.limit ?? DEFAULT_HISTORY_LIMIT);
      connection.send({
        type: 'history',
        ...(frame.id !== undefined ? { id: frame.id } : {}),
        chatId: frame.chatId,
        messages: page.messages,
        hasMore: page.hasMore,
      });
    },

    async ping(connection, frame) {
      connection.send({ type: 'pong', ...(frame.id !== undefined ? { id: frame.id } : {}), serverTime: deps.clock() });
    },
  };

  return (connection: Connection, frame: ClientFrame): Promise<void> =>
    (handlers[frame.type] as (c: Connection, f: ClientFrame) => Promise<void>)(connection, frame);
}

export type FrameHandler = ReturnType<typeof createFrameHandlers>;
