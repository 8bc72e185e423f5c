/**
 * Keeps each chat's row (latest seq, preview, its senders' read positions) up to
 * date without one write per message: what a commit stored is merged per chat and
 * written at most once per `intervalMs` per chat, at once for a chat that was quiet.
 *
 * The row is for the chat list (preview, unread counts, order by activity), never
 * for deciding what a client missed: `sync` reads the messages themselves. So a
 * row that lags by up to `intervalMs` (or longer while DynamoDB is away: pending
 * updates are kept and retried) shows a stale preview, never loses a message.
 */
import type { Message } from '../../model/index.js';
import type { ChatActivity, ChatsRepository } from '../chats/ports.js';
import type { Logger } from '../logger.js';

export interface ChatActivityDeps {
  chats: Pick<ChatsRepository, 'recordActivity'>;
  /** Least time between two writes of one chat's row (ms). */
  intervalMs: number;
  clock: () => number;
  logger: Pick<Logger, 'warn'>;
}

interface ChatState {
  pending?: ChatActivity | undefined;
  lastWriteAt: number;
  writing: boolean;
  timer?: NodeJS.Timeout | undefined;
}

export type ChatActivityRecorder = ReturnType<typeof createChatActivityRecorder>;

export function createChatActivityRecorder(deps: ChatActivityDeps) {
  const chats = new Map<string, ChatState>();
  const inFlight = new Set<Promise<void>>();

  function merge(into: ChatActivity | undefined, message: Message, preview: string): ChatActivity {
    const reads = { ...into?.reads, [message.senderId]: Math.max(into?.reads[message.senderId] ?? 0, message.seq) };
    if (into && into.lastSeq >= message.seq) return { ...into, reads };
    return { lastSeq: message.seq, preview, senderId: message.senderId, at: message.createdAt, reads };
  }

  function schedule(chatId: string, state: ChatState) {
    if (state.writing || state.timer || !state.pending) return;
    const wait = state.lastWriteAt + deps.intervalMs - deps.clock();
    if (wait <= 0) {
      write(chatId, state);
      return;
    }
    waitThenWrite(chatId, state, wait);
  }

  /**
   * The chat's state (with when it was last written) is kept until the interval has
   * passed, so a message arriving meanwhile waits for the timer instead of writing at once.
   */
  function waitThenWrite(chatId: string, state: ChatState, wait: number) {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.pending) write(chatId, state);
      else if (!state.writing) chats.delete(chatId);
    }, wait);
    state.timer.unref();
  }

  function write(chatId: string, state: ChatState) {
    const activity = state.pending;
    if (!activity) return;
    state.pending = undefined;
    state.writing = true;
    state.lastWriteAt = deps.clock();
    const done = deps.chats
      .recordActivity(chatId, activity)
      .catch((err: unknown) => {
        deps.logger.warn({ err, chatId }, 'could not update a chat row; trying again');
        // Keep it for the next round, merged with anything newer.
        state.pending = state.pending ? { ...combine(activity, state.pending) } : activity;
      })
      .finally(() => {
        state.writing = false;
        inFlight.delete(done);
        if (state.pending) schedule(chatId, state);
        else if (!state.timer) waitThenWrite(chatId, state, Math.max(0, state.lastWriteAt + deps.intervalMs - deps.clock()));
      });
    inFlight.add(done);
  }

  function combine(older: ChatActivity, newer: ChatActivity): ChatActivity {
    const reads = { ...older.reads };
    for (const [userId, seq] of Object.entries(newer.reads)) reads[userId] = Math.max(reads[userId] ?? 0, seq);
    return newer.lastSeq >= older.lastSeq ? { ...newer, reads } : { ...older, reads };
  }

  return {
    /** Notes stored messages; their chats' rows are written soon. */
    record(stored: readonly { message: Message; preview: string }[]) {
      for (const { message, preview } of stored) {
        let state = chats.get(message.chatId);
        if (!state) chats.set(message.chatId, (state = { lastWriteAt: 0, writing: false }));
        state.pending = merge(state.pending, message, preview);
      }
      for (const { message } of stored) {
        const state = chats.get(message.chatId);
        if (state) schedule(message.chatId, state);
      }
    },

    /** Writes everything pending now and waits (shutdown). */
    async flush(): Promise<void> {
      for (const [chatId, state] of chats) {
        if (state.timer) clearTimeout(state.timer);
        state.timer = undefined;
        if (!state.writing) write(chatId, state);
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    pendingChats(): number {
      return [...chats.values()].filter((s) => s.pending).length;
    },
  };
}
