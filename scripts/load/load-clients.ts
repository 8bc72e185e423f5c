/**
 * The clients of a load run: one real WebSocket per user, connected with its
 * session cookie (optionally ramped), and what they receive tallied: acks and
 * refusals of the messages sent, every delivery per member (so losses and
 * duplicates are exact), latencies, socket errors and closes.
 */
import WebSocket from 'ws';
import { textOf } from '../../test/helpers/ws-client.js';
import { LatencyHistogram } from './latency-histogram.js';
import type { LoadUser, Room } from './prepare-users.js';

const CONNECT_TIMEOUT_MS = 30_000;
/** Handshakes in flight at once, ramped or not: the load generator's own sockets and CPU are finite too. */
const CONNECTS_IN_FLIGHT = 500;

const NOT_EXPECTED = 2;
const RECEIVED = 1;

export interface SentMessage {
  sentAt: number;
  sender: LoadUser;
  room: Room;
  /** Per room slot: 0 awaited, 1 received, 2 not awaited (that member had no open socket when it was sent). */
  slots: Uint8Array;
  awaited: number;
  ackedAt?: number;
  seq?: number;
  refused?: string;
}

export interface ServerFrame {
  type: string;
  id?: string;
  details?: { clientMsgId?: string };
  clientMsgId?: string;
  code?: string;
  seq?: number;
  message?: { clientMsgId: string; seq: number };
}

export class RunTally {
  readonly sent = new Map<string, SentMessage>();
  /** Each user's messages in the order sent: the order their seqs must follow. */
  readonly sentBy = new Map<LoadUser, string[]>();
  readonly ackLatency = new LatencyHistogram();
  readonly deliveryLatency = new LatencyHistogram();
  readonly connectLatency = new LatencyHistogram();
  readonly refusals: Record<string, number> = {};
  readonly otherErrors: Record<string, number> = {};
  readonly connectFailures: Record<string, number> = {};
  /** Sockets that closed after `hello`, by close code. */
  readonly closes: Record<string, number> = {};
  acked = 0;
  delivered = 0;
  /** Deliveries to members other than the sender, and how many of them crossed to another target. */
  deliveriesToOthers = 0;
  crossInstanceDeliveries = 0;
  duplicates = 0;
  resyncs = 0;
  firstSentAt: number | undefined;
  lastDeliveredAt: number | undefined;
  open = 0;
  failed = 0;

  record(user: LoadUser, frame: ServerFrame, now: number): void {
    switch (frame.type) {
      case 'message': {
        const entry = this.sent.get(frame.message!.clientMsgId);
        if (!entry) return;
        const state = entry.slots[user.slot];
        if (state === RECEIVED) this.duplicates += 1;
        if (state !== 0) return;
        entry.slots[user.slot] = RECEIVED;
        this.delivered += 1;
        this.lastDeliveredAt = now;
        if (user === entry.sender) return;
        this.deliveriesToOthers += 1;
        this.deliveryLatency.record(now - entry.sentAt);
        if (user.target !== entry.sender.target) this.crossInstanceDeliveries += 1;
        return;
      }
      case 'ack': {
        const entry = this.sent.get(frame.clientMsgId!);
        if (!entry || entry.ackedAt !== undefined) return;
        entry.ackedAt = now;
        entry.seq = frame.seq;
        this.acked += 1;
        this.ackLatency.record(now - entry.sentAt);
        return;
      }
      case 'error': {
        // A refused send names its clientMsgId in details; one refused before decoding only echoes the frame id.
        const id = frame.details?.clientMsgId ?? frame.id;
        const entry = id ? this.sent.get(id) : undefined;
        const code = frame.code ?? 'unknown';
        if (entry && !entry.refused && entry.ackedAt === undefined) {
          entry.refused = code;
          this.refusals[code] = (this.refusals[code] ?? 0) + 1;
        } else this.otherErrors[code] = (this.otherErrors[code] ?? 0) + 1;
        return;
      }
      case 'resync':
        this.resyncs += 1;
        return;
    }
  }

  /** Sends `text` from `user` to its room and starts awaiting its ack and one delivery per open member. */
  send(user: LoadUser, room: Room, clientMsgId: string, text: string): void {
    this.expect(user, room, clientMsgId);
    user.socket!.send(JSON.stringify({ type: 'send', id: clientMsgId, chatId: room.chatId, clientMsgId, text }));
  }

  /** Starts awaiting the ack of a message `user` is about to send, and one delivery per open member of `room`. */
  expect(user: LoadUser, room: Room, clientMsgId: string): void {
    const slots = new Uint8Array(room.members.length);
    let awaited = 0;
    for (const member of room.members) {
      if (member.open) awaited += 1;
      else slots[member.slot] = NOT_EXPECTED;
    }
    const sentAt = performance.now();
    this.firstSentAt ??= sentAt;
    this.sent.set(clientMsgId, { sentAt, sender: user, room, slots, awaited });
    let order = this.sentBy.get(user);
    if (!order) this.sentBy.set(user, (order = []));
    order.push(clientMsgId);
  }

  /** Deliveries still awaited for acked messages, and sends with neither ack nor refusal. */
  outstanding(): { deliveries: number; unanswered: number } {
    let deliveries = 0;
    let unanswered = 0;
    for (const entry of this.sent.values()) {
      if (entry.ackedAt === undefined) {
        if (!entry.refused) unanswered += 1;
        continue;
      }
      for (const state of entry.slots) if (state === 0) deliveries += 1;
    }
    return { deliveries, unanswered };
  }

  expectedDeliveries(): number {
    let total = 0;
    for (const entry of this.sent.values()) if (entry.ackedAt !== undefined) total += entry.awaited;
    return total;
  }
}

/** Opens every user's socket (spread over `rampSeconds`), resolving when each has its `hello` or failed. */
export async function connectAll(users: LoadUser[], rampSeconds: number, tally: RunTally): Promise<{ seconds: number }> {
  const started = performance.now();
  let inFlight = 0;
  const waiters: (() => void)[] = [];
  const slot = async () => {
    while (inFlight >= CONNECTS_IN_FLIGHT) await new Promise<void>((resolve) => waiters.push(resolve));
    inFlight += 1;
  };
  const release = () => {
    inFlight -= 1;
    waiters.shift()?.();
  };
  await Promise.all(
    users.map(async (user, i) => {
      const due = started + (rampSeconds * 1000 * i) / users.length;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await slot();
      try {
        await connectOne(user, tally);
      } finally {
        release();
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000 };
}

function connectOne(user: LoadUser, tally: RunTally): Promise<void> {
  const socket = new WebSocket(user.target.wsUrl, { headers: { cookie: user.cookie, origin: user.target.baseUrl } });
  return trackConnection(user, tally, socket, {
    awaited: 'hello',
    onText(text, receivedAt) {
      const frame = JSON.parse(text) as ServerFrame;
      if (frame.type === 'hello') return true;
      tally.record(user, frame, receivedAt);
      return false;
    },
  });
}

/** What a load client speaks over its socket: huddle's frames, or another server's. */
export interface ClientProtocol {
  /** The frame that completes the handshake, for the failure reason ("no hello within 30 s"). */
  awaited: string;
  /** Handles one text frame; true when it completes the handshake. */
  onText(text: string, receivedAt: number): boolean;
}

/**
 * Follows one user's socket through its life and keeps the tally: connected (and how long it
 * took) once the protocol says the handshake is done, failed with the reason, closed by code.
 */
export function trackConnection(user: LoadUser, tally: RunTally, socket: WebSocket, protocol: ClientProtocol): Promise<void> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    user.socket = socket;
    let settled = false;
    const failed = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      tally.failed += 1;
      tally.connectFailures[reason] = (tally.connectFailures[reason] ?? 0) + 1;
      socket.terminate();
      resolve();
    };
    const timer = setTimeout(() => failed(`no ${protocol.awaited} within 30 s`), CONNECT_TIMEOUT_MS);
    socket.on('message', (data) => {
      const now = performance.now();
      if (!protocol.onText(textOf(data), now) || settled) return;
      settled = true;
      clearTimeout(timer);
      user.open = true;
      tally.open += 1;
      tally.connectLatency.record(now - startedAt);
      resolve();
    });
    socket.on('unexpected-response', (_req, res) => failed(`HTTP ${res.statusCode}`));
    socket.on('error', (err: NodeJS.ErrnoException) => failed(err.code ?? err.message));
    socket.on('close', (code) => {
      if (!settled) return failed(`closed ${code} before ${protocol.awaited}`);
      if (user.open) {
        user.open = false;
        tally.open -= 1;
        tally.closes[code] = (tally.closes[code] ?? 0) + 1;
      }
    });
  });
}

/** Closes every socket without waiting for close handshakes (the run is over). */
export function disconnectAll(users: LoadUser[]): void {
  for (const user of users) {
    user.open = false;
    user.socket?.terminate();
  }
}
