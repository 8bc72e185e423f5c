/**
 * What each client frame does: a thin mapping from a validated frame to a service
 * call and the frames that answer it. Authorization lives in the services.
 */
import { chatNotFound } from '../../model/index.js';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { EventPublisher } from '../../domain/events/ports.js';
import type { Metrics } from '../../domain/metrics.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import { HISTORY_PAGE_DEFAULT } from '../../shared/frames.js';
import type { ClientConnection } from './client-connection.js';
import { errorFrameFor } from './error-frames.js';
import type { ClientFrame, ClientFrameOf, ClientFrameType } from './protocol.js';

const TYPING_MIN_INTERVAL_MS = 2_000;
/** Past this many remembered (user, chat) typing times, the stale ones are dropped. */
const TYPING_MEMORY = 10_000;

export interface FrameHandlerDeps {
  chats: Pick<ChatsService, 'markRead'>;
  messages: MessagesService;
  events: EventPublisher;
  clock: () => number;
  metrics: Pick<Metrics, 'sendAcked' | 'quotaRefused'>;
}

type Handlers = { [K in ClientFrameType]: (connection: ClientConnection, frame: ClientFrameOf<K>) => Promise<void> };

const echoId = (frame: { id?: string | undefined }) => (frame.id !== undefined ? { id: frame.id } : {});

export function createFrameHandlers(deps: FrameHandlerDeps) {
  const lastTyping = new Map<string, number>();
  const actorOf = (connection: ClientConnection) => ({ userId: connection.user.userId, username: connection.user.username });

  const handlers: Handlers = {
    async send(connection, frame) {
      // The socket's next frame may start once this send has its place in the sender's
      // order, not only once it is stored: a tab sending faster than one commit's round
      // trip keeps its sends flowing into the group commit instead of waiting one by one.
      let markPlaced!: () => void;
      const placed = new Promise<void>((resolve) => (markPlaced = resolve));
      // The ack goes out the moment the message is stored, before the message's own
      // event is published, so the sender never sees its message before its ack.
      const started = performance.now();
      const stored = deps.messages.send(
        actorOf(connection),
        frame,
        (result) => {
          deps.metrics.sendAcked((performance.now() - started) / 1000);
          connection.send({
            type: 'ack',
            ...echoId(frame),
            chatId: result.chatId,
            clientMsgId: result.clientMsgId,
            seq: result.seq,
            createdAt: result.createdAt,
            duplicate: result.duplicate,
            ...(result.messagesToday !== undefined ? { messagesToday: result.messagesToday } : {}),
          });
        },
        markPlaced,
      );
      // Its outcome is answered here, since the frame's handling may have moved on.
      const answered = stored.then(
        () => undefined,
        (err: unknown) => {
          const reply = errorFrameFor(err, {
            ...echoId(frame),
            frame: 'send',
            details: { chatId: frame.chatId, clientMsgId: frame.clientMsgId },
          });
          if (reply.type === 'error' && reply.code === 'quota_exceeded') deps.metrics.quotaRefused();
          if (reply.type === 'error' && reply.code === 'internal') connection.log.error({ err, frame: 'send' }, 'frame failed');
          try {
            connection.send(reply);
          } catch {
            // The socket is unusable; its close handler cleans up. Nothing may reject here:
            // no one awaits this once the frame's handling has moved on.
          }
        },
      );
      await Promise.race([placed, answered]);
    },

    async typing(connection, frame) {
      // The socket's chat list is kept current by chat events; typing is too frequent
      // and too unimportant to ask the database each time.
      if (!connection.chatIds.has(frame.chatId)) throw chatNotFound();
      const key = `${connection.user.userId}|${frame.chatId}`;
      const now = deps.clock();
      if (now - (lastTyping.get(key) ?? 0) < TYPING_MIN_INTERVAL_MS) return;
      lastTyping.set(key, now);
      if (lastTyping.size > TYPING_MEMORY) {
        for (const [k, at] of lastTyping) if (now - at > TYPING_MIN_INTERVAL_MS) lastTyping.delete(k);
      }
      await deps.events.publish({
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
      const outcomes = await deps.messages.sync(connection.user.userId, frame.chats, connection.chatIds);
      for (const outcome of outcomes) {
        if (outcome.status === 'synced') {
          connection.send({
            type: 'synced',
            ...echoId(frame),
            chatId: outcome.chatId,
            messages: outcome.messages,
            lastSeq: outcome.lastSeq,
          });
        } else if (outcome.status === 'too_far_behind') {
          connection.send({ type: 'resync', chatId: outcome.chatId, reason: 'too_far_behind', lastSeq: outcome.lastSeq });
        } else {
          connection.send(errorFrameFor(chatNotFound(), { id: frame.id, frame: 'sync', details: { chatId: outcome.chatId } }));
        }
      }
    },

    async history(connection, frame) {
      const page = await deps.messages.history(connection.user.userId, frame.chatId, frame.before, frame.limit ?? HISTORY_PAGE_DEFAULT);
      connection.send({ type: 'history', ...echoId(frame), chatId: frame.chatId, messages: page.messages, hasMore: page.hasMore });
    },

    async ping(connection, frame) {
      connection.send({ type: 'pong', ...echoId(frame), serverTime: deps.clock() });
    },
  };

  return (connection: ClientConnection, frame: ClientFrame): Promise<void> =>
    (handlers[frame.type] as (c: ClientConnection, f: ClientFrame) => Promise<void>)(connection, frame);
}

export type FrameHandler = ReturnType<typeof createFrameHandlers>;
