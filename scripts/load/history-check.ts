/**
 * After a run, what the service stored, read back as a member reads it: each
 * room's history over HTTP (`GET /api/chats/:id/messages`, newest page first),
 * compared with what the clients were told. Every acked message must be stored
 * exactly once, under the seq its ack gave, and each sender's messages in the
 * order they were sent.
 */
import { HISTORY_PAGE_MAX } from '../../src/shared/frames.js';
import { inParallel } from './in-parallel.js';
import type { LoadUser, Room } from './prepare-users.js';
import type { RunTally } from './load-clients.js';

export interface HistoryCheck {
  roomsRead: number;
  /** False when the time budget ran out before every room was read. */
  complete: boolean;
  storedMessages: number;
  ackedNotStored: number;
  storedTwice: number;
  seqDiffersFromAck: number;
  /** Pairs of one sender's consecutive messages stored in the opposite order. */
  outOfOrder: number;
  /** Stored although the client got no ack (its answer came too late or was lost) or a refusal. */
  storedWithoutAck: number;
  requests: number;
  seconds: number;
}

interface StoredMessage {
  clientMsgId: string;
  seq: number;
}

const CONCURRENCY = 8;

export async function checkHistory(rooms: Room[], tally: RunTally, tag: string, budgetSeconds: number): Promise<HistoryCheck> {
  const started = performance.now();
  const deadline = started + budgetSeconds * 1000;
  const ours = (id: string) => id.startsWith(`${tag}-`);
  const seqOf = new Map<string, number[]>();
  let requests = 0;
  let roomsRead = 0;
  let complete = true;

  const sentTo = new Map<Room, number>();
  for (const entry of tally.sent.values()) sentTo.set(entry.room, (sentTo.get(entry.room) ?? 0) + 1);

  await inParallel([...sentTo.keys()], CONCURRENCY, async (room) => {
    const reader = room.members.find((m) => m.cookie) as LoadUser;
    let before: number | undefined;
    for (;;) {
      if (performance.now() > deadline) {
        complete = false;
        return;
      }
      const query = `limit=${HISTORY_PAGE_MAX}${before === undefined ? '' : `&before=${before}`}`;
      const res = await fetch(`${reader.target.baseUrl}/api/chats/${encodeURIComponent(room.chatId)}/messages?${query}`, {
        headers: { cookie: reader.cookie },
      });
      requests += 1;
      if (!res.ok) throw new Error(`reading the history of ${room.chatId} failed: HTTP ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { messages: StoredMessage[]; hasMore: boolean };
      for (const message of page.messages) {
        if (!ours(message.clientMsgId)) continue;
        const seqs = seqOf.get(message.clientMsgId) ?? [];
        seqs.push(message.seq);
        seqOf.set(message.clientMsgId, seqs);
      }
      if (!page.hasMore || page.messages.length === 0) break;
      before = page.messages[0]!.seq;
    }
    roomsRead += 1;
  });

  let ackedNotStored = 0;
  let storedTwice = 0;
  let seqDiffersFromAck = 0;
  let storedWithoutAck = 0;
  for (const [clientMsgId, entry] of tally.sent) {
    const seqs = seqOf.get(clientMsgId) ?? [];
    if (seqs.length > 1) storedTwice += 1;
    if (entry.ackedAt === undefined) {
      if (seqs.length > 0) storedWithoutAck += 1;
      continue;
    }
    if (seqs.length === 0) ackedNotStored += 1;
    else if (seqs[0] !== entry.seq) seqDiffersFromAck += 1;
  }
  let outOfOrder = 0;
  for (const ids of tally.sentBy.values()) {
    let previous = -Infinity;
    for (const id of ids) {
      const seq = seqOf.get(id)?.[0];
      if (seq === undefined) continue;
      if (seq < previous) outOfOrder += 1;
      previous = seq;
    }
  }
  return {
    roomsRead,
    complete,
    storedMessages: seqOf.size,
    ackedNotStored: complete ? ackedNotStored : NaN,
    storedTwice,
    seqDiffersFromAck,
    outOfOrder,
    storedWithoutAck,
    requests,
    seconds: +((performance.now() - started) / 1000).toFixed(1),
  };
}
