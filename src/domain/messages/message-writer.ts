/**
 * Group commit: sends that arrive while a write is in flight are stored together.
 *
 * - The first send of a quiet instance is written at once (no timer); under load,
 *   sends queue while commits are in flight and the next commit takes as many as
 *   fit (up to 100 DynamoDB items: two per message plus one per sender).
 * - A commit is one atomic write (see `MessageLog.commit`): every message, its
 *   idempotency record and each sender's quota and membership check. Its seqs come
 *   from the sequencer, so commits from several instances never conflict on a chat.
 * - A chat or a sender is in at most one commit at a time, and sends are taken in
 *   arrival order per chat and per sender: a chat's seqs follow the order its sends
 *   arrived here, and a sender's messages keep their order.
 * - Refusals (not a member, quota reached, a retry of a stored send) are settled
 *   from what the store reports and the rest is committed again; infrastructure
 *   failures are repeated with the same token until a deadline, then the sends get
 *   `unavailable` and no ack (their retry is answered from the idempotency record
 *   if the write did land).
 * - Backpressure: when the queue is full or its oldest send has waited too long,
 *   new sends are refused at once with a retryable `unavailable`.
 */
import { randomUUID } from 'node:crypto';
import { AppError, chatNotFound, invalid, notFound, unavailable, type Actor, type FileInfo, type Message } from '../../model/index.js';
import { previewOf } from '../../shared/preview.js';
import type { Logger } from '../logger.js';
import { messageLimitReached, summarize, utcDay, type QuotaLimits } from '../quotas/quota-policy.js';
import {
  RetryableStoreError,
  sendKeyOf,
  type CommitOutcome,
  type MessageLog,
  type SenderCharge,
  type SenderState,
  type Sequencer,
  type SentRecord,
} from './ports.js';

/** DynamoDB takes at most 100 items in one transaction. */
const MAX_ITEMS_PER_COMMIT = 100;
/** Refused parts are settled and the rest retried at most this often per commit. */
const MAX_SETTLE_ROUNDS = 8;
const RETRY_BASE_DELAY_MS = 20;
const RETRY_MAX_DELAY_MS = 500;

export interface WriteRequest {
  sender: Actor;
  chatId: string;
  clientMsgId: string;
  text?: string | undefined;
  file?: FileInfo | undefined;
}

export type WriteResult =
  | { status: 'stored'; message: Message; preview: string; messagesToday: number | undefined }
  | { status: 'duplicate'; original: SentRecord };

export interface WriterSettings {
  /** Commits in flight at once (each over distinct chats and senders). */
  concurrency: number;
  /** Sends waiting at most; past it new sends are refused. */
  maxQueued: number;
  /** New sends are refused while the oldest queued send has waited this long (ms). */
  maxQueueWaitMs: number;
  /** How long a commit keeps retrying infrastructure failures before its sends get `unavailable` (ms). */
  commitDeadlineMs: number;
}

export interface WriterStats {
  queued: number;
  inFlight: number;
  commits: number;
  messages: number;
  refusedBusy: number;
}

export interface MessageWriterDeps {
  log: MessageLog;
  sequencer: Sequencer;
  /** The lowest seq a chat's counter may restart from: nothing at or below it may be handed out again. */
  seqFloor: (chatId: string) => Promise<number>;
  limits: QuotaLimits;
  settings: WriterSettings;
  clock: () => number;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Called once a commit is stored, with its messages, before their senders hear of them. */
  onCommitted?: (messages: readonly { message: Message; preview: string }[]) => void;
}

interface PendingSend {
  request: WriteRequest;
  preview: string;
  enqueuedAt: number;
  resolve(result: WriteResult): void;
  reject(err: unknown): void;
}

/** What this instance knows of a sender's daily counter: enough to pick the charge's form. */
interface KnownUsage {
  day: string;
  count: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type MessageWriter = ReturnType<typeof createMessageWriter>;

export function createMessageWriter(deps: MessageWriterDeps) {
  const { log, sequencer, settings, clock } = deps;
  const queue: PendingSend[] = [];
  const chatsInFlight = new Set<string>();
  const sendersInFlight = new Set<string>();
  const usage = new Map<string, KnownUsage>();
  const stats: WriterStats = { queued: 0, inFlight: 0, commits: 0, messages: 0, refusedBusy: 0 };
  let inFlight = 0;
  let closed = false;
  const idleWaiters: (() => void)[] = [];
  /** Most messages one sender may have in one commit: a charge must fit any tier's limit on its own. */
  const perSenderCap = Math.max(1, Math.min(deps.limits.free.messagesPerDay, deps.limits.premium.messagesPerDay, 40));

  function remember(userId: string, known: KnownUsage) {
    if (usage.size >= 100_000 && !usage.has(userId)) usage.delete(usage.keys().next().value!);
    usage.set(userId, known);
  }

  function busy(): AppError | undefined {
    const oldest = queue[0];
    const now = clock();
    if (queue.length >= settings.maxQueued || (oldest && now - oldest.enqueuedAt > settings.maxQueueWaitMs)) {
      return unavailable('The service is busy storing messages; send again in a moment', { retryAfterMs: 1000 });
    }
    return undefined;
  }

  /** Takes the next commit's sends from the queue, keeping arrival order per chat and per sender. */
  function takeBatch(): PendingSend[] {
    const batch: PendingSend[] = [];
    const blockedChats = new Set<string>();
    const blockedSenders = new Set<string>();
    const perSender = new Map<string, number>();
    let items = 0;
    for (let i = 0; i < queue.length && items < MAX_ITEMS_PER_COMMIT; i++) {
      const send = queue[i]!;
      const { chatId } = send.request;
      const senderId = send.request.sender.userId;
      const cost = 2 + (perSender.has(senderId) ? 0 : 1);
      const takeable =
        !chatsInFlight.has(chatId) &&
        !sendersInFlight.has(senderId) &&
        !blockedChats.has(chatId) &&
        !blockedSenders.has(senderId) &&
        (perSender.get(senderId) ?? 0) < perSenderCap &&
        items + cost <= MAX_ITEMS_PER_COMMIT;
      if (!takeable) {
        // Whatever is behind it in the same chat or from the same sender waits too.
        blockedChats.add(chatId);
        blockedSenders.add(senderId);
        continue;
      }
      batch.push(send);
      items += cost;
      perSender.set(senderId, (perSender.get(senderId) ?? 0) + 1);
      queue.splice(i, 1);
      i--;
    }
    return batch;
  }

  function pump(): void {
    while (inFlight < settings.concurrency && queue.length > 0) {
      const batch = takeBatch();
      if (batch.length === 0) return;
      const chats = new Set(batch.map((s) => s.request.chatId));
      const senders = new Set(batch.map((s) => s.request.sender.userId));
      for (const chatId of chats) chatsInFlight.add(chatId);
      for (const userId of senders) sendersInFlight.add(userId);
      inFlight++;
      stats.inFlight = inFlight;
      void commitBatch(batch)
        .catch((err: unknown) => {
          // commitBatch settles every send itself; this only guards against a bug there.
          deps.logger.error({ err }, 'a message commit failed unexpectedly');
          for (const send of batch) send.reject(err);
        })
        .finally(() => {
          for (const chatId of chats) chatsInFlight.delete(chatId);
          for (const userId of senders) sendersInFlight.delete(userId);
          inFlight--;
          stats.inFlight = inFlight;
          stats.queued = queue.length;
          pump();
          if (inFlight === 0 && queue.length === 0) for (const wake of idleWaiters.splice(0)) wake();
        });
    }
    stats.queued = queue.length;
  }

  /** Seqs for every chat in the batch, in queue order within each chat. */
  async function allocateSeqs(sends: readonly PendingSend[]): Promise<Map<PendingSend, number>> {
    const counts = new Map<string, number>();
    for (const send of sends) counts.set(send.request.chatId, (counts.get(send.request.chatId) ?? 0) + 1);
    const requests = [...counts].map(([chatId, count]) => ({ chatId, count }));
    let first = await sequencer.allocate(requests);
    const unseeded = requests.filter((r) => first.get(r.chatId) === undefined);
    if (unseeded.length > 0) {
      await Promise.all(unseeded.map(async (r) => sequencer.seed(r.chatId, await deps.seqFloor(r.chatId))));
      const retried = await sequencer.allocate(unseeded);
      first = new Map([...first, ...retried]);
    }
    const next = new Map<string, number>();
    const seqs = new Map<PendingSend, number>();
    for (const send of sends) {
      const { chatId } = send.request;
      const start = first.get(chatId);
      if (start === undefined) throw new RetryableStoreError(`the sequencer gave no seq for chat ${chatId}`);
      const seq = next.get(chatId) ?? start;
      seqs.set(send, seq);
      next.set(chatId, seq + 1);
    }
    return seqs;
  }

  /**
   * Gives back the seqs at the top of what a commit took for a chat that no stored
   * message holds (its sends were refused or were retries), so they do not stay
   * holes; the sequencer only takes them back if nobody got a later seq meanwhile.
   */
  async function releaseUnused(
    pools: ReadonlyMap<string, readonly number[]>,
    stored: ReadonlyMap<string, readonly number[]>,
  ): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const [chatId, pool] of pools) {
      const highestStored = Math.max(0, ...(stored.get(chatId) ?? []));
      const top = pool.filter((seq) => seq > highestStored).sort((x, y) => y - x);
      let count = 0;
      while (count < top.length && top[count] === top[0]! - count) count++;
      if (count > 0) releases.push(sequencer.release(chatId, top[0]!, count));
    }
    await Promise.all(releases).catch((err: unknown) => deps.logger.warn({ err }, 'could not give back unused seqs; they stay holes'));
  }

  function chargesOf(sends: readonly PendingSend[], day: string): SenderCharge[] {
    const bySender = new Map<string, { chatIds: Set<string>; count: number }>();
    for (const send of sends) {
      const entry = bySender.get(send.request.sender.userId) ?? { chatIds: new Set<string>(), count: 0 };
      entry.chatIds.add(send.request.chatId);
      entry.count++;
      bySender.set(send.request.sender.userId, entry);
    }
    return [...bySender].map(([userId, { chatIds, count }]) => {
      const known = usage.get(userId);
      return { userId, chatIds: [...chatIds], count: known?.day === day ? { form: 'add', day, count } : { form: 'start', day, count } };
    });
  }

  function messageOf(send: PendingSend, seq: number, now: number): Message {
    const { request } = send;
    return {
      chatId: request.chatId,
      seq,
      senderId: request.sender.userId,
      clientMsgId: request.clientMsgId,
      kind: request.file ? 'file' : 'text',
      ...(request.text !== undefined ? { text: request.text } : {}),
      ...(request.file ? { file: request.file } : {}),
      createdAt: now,
    };
  }

  /** Settles refusals: answers the refused sends and returns the ones still to commit. */
  async function settleRefusal(
    outcome: Extract<CommitOutcome, { status: 'refused' }>,
    remaining: PendingSend[],
    assigned: Map<PendingSend, number>,
    day: string,
    settle: (send: PendingSend, result: WriteResult | Error) => void,
    storedSends: Set<PendingSend>,
    uncertain: ReadonlySet<PendingSend>,
  ): Promise<PendingSend[]> {
    let still = remaining;
    const storedEarlier: { send: PendingSend; record: SentRecord }[] = [];

    if (outcome.duplicates.length > 0) {
      const found = await log.findSent(outcome.duplicates);
      const keep: PendingSend[] = [];
      for (const send of still) {
        const record = found.get(sendKeyOf({ senderId: send.request.sender.userId, clientMsgId: send.request.clientMsgId }));
        if (!record) {
          keep.push(send);
        } else if (uncertain.has(send) && record.chatId === send.request.chatId && record.seq === assigned.get(send)) {
          // An earlier attempt of this very commit was stored after all (its answer was lost).
          storedEarlier.push({ send, record });
        } else if (record.chatId !== send.request.chatId) {
          settle(
            send,
            invalid('This clientMsgId was already used for a message in another chat', { clientMsgId: send.request.clientMsgId }),
          );
        } else {
          settle(send, { status: 'duplicate', original: record });
        }
      }
      still = keep;
      if (storedEarlier.length > 0) {
        const messages = storedEarlier.map(({ send, record }) => ({
          message: messageOf(send, record.seq, record.createdAt),
          preview: send.preview,
        }));
        deps.onCommitted?.(messages);
        storedEarlier.forEach(({ send }, i) => {
          storedSends.add(send);
          settle(send, {
            status: 'stored',
            message: messages[i]!.message,
            preview: send.preview,
            messagesToday: usage.get(send.request.sender.userId)?.count,
          });
        });
      }
    }

    for (const { userId, state } of outcome.senders) {
      const theirs = still.filter((s) => s.request.sender.userId === userId);
      if (!state) {
        for (const send of theirs) settle(send, notFound('No such user'));
      } else {
        remember(userId, { day: state.quotaDay ?? '', count: state.messagesToday });
        const todays = state.quotaDay === day ? state.messagesToday : 0;
        let room = Math.max(0, limitOf(state) - todays);
        for (const send of theirs) {
          if (!state.chatIds.has(send.request.chatId)) settle(send, chatNotFound());
          else if (room > 0) room--;
          else
            settle(send, messageLimitReached(summarize({ ...usageOf(state), quotaDay: day, messagesToday: todays }, deps.limits, clock())));
        }
      }
    }
    still = still.filter((s) => !settledSends.has(s));

    for (const chatId of outcome.seqTaken) {
      // The sequencer lost count (Redis restarted or failed over): start it past what is stored.
      await sequencer.seed(chatId, await deps.seqFloor(chatId));
      for (const send of still) if (send.request.chatId === chatId) assigned.delete(send);
    }
    return still;
  }

  const settledSends = new WeakSet<PendingSend>();

  function limitOf(state: SenderState): number {
    return state.tier === 'premium' ? deps.limits.premium.messagesPerDay : deps.limits.free.messagesPerDay;
  }

  function usageOf(state: SenderState) {
    return { userId: state.userId, username: '', tier: state.tier, storageBytes: 0 };
  }

  async function commitBatch(batch: PendingSend[]): Promise<void> {
    const settle = (send: PendingSend, result: WriteResult | Error) => {
      if (settledSends.has(send)) return;
      settledSends.add(send);
      if (result instanceof Error) send.reject(result);
      else send.resolve(result);
    };
    const deadline = clock() + settings.commitDeadlineMs;
    const storedSends = new Set<PendingSend>();
    /** The seq each stored send was stored with. */
    const storedSeqs = new Map<PendingSend, number>();
    /** Sends in a commit attempt whose answer was lost: it may have been stored. */
    const uncertain = new Set<PendingSend>();
    /** Sends refused by a condition: their seqs were certainly not stored. */
    const notWritten = new Set<PendingSend>();
    let remaining = batch;
    /** Seqs assigned so far (kept across retries so a repeated commit is the same commit). */
    const assigned = new Map<PendingSend, number>();
    const allocatedEver = new Map<PendingSend, number>();
    let token = randomUUID();
    let attempt = 0;
    let rounds = 0;
    try {
      while (remaining.length > 0) {
        const needSeq = remaining.filter((s) => !assigned.has(s));
        if (needSeq.length > 0) {
          // Seqs are taken in queue order, after those a chat already holds in this commit.
          const fresh = await allocateSeqs(needSeq);
          for (const [send, seq] of fresh) {
            assigned.set(send, seq);
            allocatedEver.set(send, seq);
          }
          token = randomUUID();
        }
        const now = clock();
        const day = utcDay(now);
        const messages = remaining.map((send) => messageOf(send, assigned.get(send)!, now));
        let outcome: CommitOutcome;
        try {
          outcome = await log.commit({
            messages,
            charges: chargesOf(remaining, day),
            limits: { free: deps.limits.free.messagesPerDay, premium: deps.limits.premium.messagesPerDay },
            token,
            // The deadline bounds the request in flight too: a store that accepts connections
            // and never answers (a vanished host) would otherwise hold these sends until the
            // client's own request timeout, however short the deadline.
            signal: AbortSignal.timeout(Math.max(1, deadline - clock())),
          });
        } catch (err) {
          for (const send of remaining) uncertain.add(send);
          if (!(err instanceof RetryableStoreError) || clock() + backoff(attempt) > deadline) throw err;
          await sleep(backoff(attempt++));
          continue;
        }
        if (outcome.status === 'committed') {
          stats.commits++;
          stats.messages += messages.length;
          for (const userId of new Set(remaining.map((s) => s.request.sender.userId))) {
            const k = remaining.filter((s) => s.request.sender.userId === userId).length;
            const known = usage.get(userId);
            remember(userId, { day, count: (known?.day === day ? known.count : 0) + k });
          }
          const stored = remaining.map((send, i) => ({ message: messages[i]!, preview: send.preview }));
          deps.onCommitted?.(stored);
          remaining.forEach((send, i) => {
            storedSends.add(send);
            storedSeqs.set(send, messages[i]!.seq);
          });
          remaining.forEach((send, i) =>
            settle(send, {
              status: 'stored',
              message: messages[i]!,
              preview: send.preview,
              messagesToday: usage.get(send.request.sender.userId)?.count,
            }),
          );
          break;
        }
        if (++rounds > MAX_SETTLE_ROUNDS) throw new Error('a message commit kept being refused; giving up on it');
        const before = remaining;
        remaining = await settleRefusal(outcome, remaining, assigned, day, settle, storedSends, uncertain);
        for (const send of before) if (!remaining.includes(send) && !storedSends.has(send)) notWritten.add(send);
        // Refusals change the commit: re-pack the chat's seqs onto the sends still in it.
        if (remaining.length !== before.length || outcome.seqTaken.length > 0) repack(remaining, assigned);
        token = randomUUID();
      }
    } catch (err) {
      // Refusals are AppErrors already; a store that stayed unreachable past the
      // deadline is `unavailable` (retry later); anything else is a bug, `internal`.
      const answer =
        err instanceof AppError
          ? err
          : err instanceof RetryableStoreError
            ? unavailable('Messages cannot be stored right now; send again in a moment', { retryAfterMs: 1000 })
            : err;
      if (!(err instanceof AppError)) deps.logger.warn({ err }, 'a message commit failed; its sends are answered with an error');
      for (const send of remaining) settle(send, answer instanceof Error ? answer : new Error(String(answer)));
    } finally {
      // After a lost answer nobody knows what was stored: nothing goes back then.
      if (uncertain.size === 0 && notWritten.size > 0) {
        const pools = new Map<string, number[]>();
        for (const [send, seq] of allocatedEver) pools.set(send.request.chatId, [...(pools.get(send.request.chatId) ?? []), seq]);
        const stored = new Map<string, number[]>();
        for (const [send, seq] of storedSeqs) stored.set(send.request.chatId, [...(stored.get(send.request.chatId) ?? []), seq]);
        await releaseUnused(pools, stored);
      }
    }
  }

  /** After refusals, the sends left in a chat take that chat's lowest seqs of this commit, in order. */
  function repack(remaining: readonly PendingSend[], assigned: Map<PendingSend, number>) {
    const pool = new Map<string, number[]>();
    for (const [send, seq] of assigned) {
      const list = pool.get(send.request.chatId) ?? [];
      list.push(seq);
      pool.set(send.request.chatId, list);
    }
    for (const list of pool.values()) list.sort((a, b) => a - b);
    const next = new Map<string, number>();
    for (const send of remaining) {
      const list = pool.get(send.request.chatId);
      if (!list || !assigned.has(send)) continue;
      const i = next.get(send.request.chatId) ?? 0;
      assigned.set(send, list[i]!);
      next.set(send.request.chatId, i + 1);
    }
    for (const [send] of assigned) if (!remaining.includes(send)) assigned.delete(send);
  }

  function backoff(attempt: number): number {
    const base = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  return {
    /** Queues one message; resolves when it is stored (or was already), rejects with an AppError when refused. */
    write(request: WriteRequest): Promise<WriteResult> {
      if (closed) return Promise.reject(unavailable('This instance is shutting down; send again', { retryAfterMs: 500 }));
      const refusal = busy();
      if (refusal) {
        stats.refusedBusy++;
        return Promise.reject(refusal);
      }
      return new Promise<WriteResult>((resolve, reject) => {
        const preview = previewOf({ text: request.text, fileName: request.file?.name });
        queue.push({ request, preview, enqueuedAt: clock(), resolve, reject });
        pump();
      });
    },

    /** What this instance learned of a user's daily counter elsewhere (at connect). */
    noteUsage(userId: string, day: string, count: number) {
      if (!usage.has(userId)) remember(userId, { day, count });
    },

    stats(): WriterStats {
      return { ...stats, queued: queue.length, inFlight };
    },

    /** Stops taking sends and waits for those already taken to be settled. */
    async close(): Promise<void> {
      closed = true;
      if (inFlight === 0 && queue.length === 0) return;
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
