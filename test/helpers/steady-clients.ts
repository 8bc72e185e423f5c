/**
 * Clients that keep going while parts of the service fail, for fault tests and
 * benches: they behave as the page does when a socket goes away. On any close they
 * wait the page's own jittered backoff (`reconnectDelay` of src/web/chat-client.ts),
 * reconnect through `route()` (as the load balancer would route them), and a sender
 * resends every unacknowledged message with its original clientMsgId. Each client
 * records how long each reconnect took, from the close to the next `hello`.
 *
 * `checkDelivery` then says whether anything was lost or doubled: in storage, in
 * the acks, and in what the receiver has once it has synced.
 */
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultSettings, reconnectDelay } from '../../src/web/chat-client.js';
import { api, type Person } from './people.js';
import { connectReady, textOf } from './ws-client.js';

type Target = { baseUrl: string } | string;

interface Received {
  chatId: string;
  seq: number;
  clientMsgId?: string;
}

export interface ReconnectingClient {
  who: Person;
  /** Every message frame received, over every socket this client had. */
  received: Received[];
  /** Close codes of the sockets it lost. */
  closes: number[];
  /** For each reconnect: ms from the close to the next `hello`. */
  reconnectMs: number[];
  /** For each reconnect: how many connection attempts it took. */
  reconnectAttempts: number[];
  /** Why each attempt that never got its `hello` failed: the socket error, or its close code and reason. */
  failedAttempts: string[];
  /** Resolves at the first `hello`. */
  ready: Promise<void>;
  /** True when a socket is open and has had its `hello`. */
  isReady(): boolean;
  /** Sends on the current socket if it is ready; false when there is none. */
  send(frame: Record<string, unknown>): boolean;
  /** Called on every `hello` (the first one and after each reconnect). */
  onReady(listener: () => void): void;
  onFrame(listener: (frame: { type: string } & Record<string, unknown>) => void): void;
  /** Closes for good: no reconnect. */
  stop(): void;
}

export interface ReconnectOptions {
  /** Delay before reconnect attempt `attempt` (0 for the first after a hello); default the page's. */
  delay?: (attempt: number) => number;
}

const pageDelay = (attempt: number) => reconnectDelay(attempt, defaultSettings);

export function connectReconnecting(who: Person, route: () => string, options: ReconnectOptions = {}): ReconnectingClient {
  const delay = options.delay ?? pageDelay;
  const readyListeners: (() => void)[] = [];
  const frameListeners: ((frame: { type: string } & Record<string, unknown>) => void)[] = [];
  const received: Received[] = [];
  const closes: number[] = [];
  const reconnectMs: number[] = [];
  const reconnectAttempts: number[] = [];
  const failedAttempts: string[] = [];
  let socket: WebSocket | undefined;
  let ready = false;
  let stopped = false;
  let attempt = 0;
  /** When the socket in use was lost, until the next hello. */
  let lostAt: number | undefined;
  let markFirstReady!: () => void;
  const firstReady = new Promise<void>((resolve) => (markFirstReady = resolve));

  const open = () => {
    if (stopped) return;
    const url = route();
    const s = new WebSocket(url, { headers: { cookie: who.cookie, origin: new URL(url.replace(/^ws/, 'http')).origin } });
    socket = s;
    ready = false;
    s.on('message', (data) => {
      const frame = JSON.parse(textOf(data)) as { type: string } & Record<string, unknown>;
      if (frame.type === 'hello') {
        ready = true;
        if (lostAt !== undefined) {
          reconnectMs.push(performance.now() - lostAt);
          reconnectAttempts.push(attempt);
        }
        attempt = 0;
        lostAt = undefined;
        markFirstReady();
        for (const listener of readyListeners) listener();
      } else if (frame.type === 'message') {
        const message = frame.message as Received;
        received.push({ chatId: message.chatId, seq: message.seq, clientMsgId: message.clientMsgId });
      }
      for (const listener of frameListeners) listener(frame);
    });
    let failure: string | undefined;
    // Every error is followed by a close, which does the work.
    s.on('error', (err) => (failure = err.message));
    s.on('close', (code, reason) => {
      if (socket !== s || stopped) return;
      if (ready) {
        closes.push(code);
        lostAt = performance.now();
      } else {
        failedAttempts.push(failure ?? `closed ${code} ${reason.toString()}`.trim());
      }
      ready = false;
      const wait = delay(attempt++);
      setTimeout(open, wait);
    });
  };
  open();

  return {
    who,
    received,
    closes,
    reconnectMs,
    reconnectAttempts,
    failedAttempts,
    ready: firstReady,
    isReady: () => ready && socket?.readyState === WebSocket.OPEN,
    send(frame) {
      if (!ready || socket?.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
    onReady: (listener) => void readyListeners.push(listener),
    onFrame: (listener) => void frameListeners.push(listener),
    stop() {
      stopped = true;
      socket?.close(1000);
    },
  };
}

export interface SteadySender {
  client: ReconnectingClient;
  chatId: string;
  /** clientMsgId -> seq, from acks. */
  acked: Map<string, number>;
  /** clientMsgId -> error code, for sends refused for good (anything but `unavailable`). */
  refused: Map<string, string>;
  /** Sends answered `unavailable` and sent again (same clientMsgId) after `retryAfterMs`. */
  retriedAfterUnavailable(): number;
  /** How many sends were made (first attempts, not resends). */
  sent(): number;
  /** Resolves once every message is acked or `ackDeadlineMs` has passed after the last send. */
  done: Promise<void>;
}

export interface SteadyOptions {
  messages: number;
  intervalMs: number;
  /** How long to wait for the last acks after the last send (ms). */
  ackDeadlineMs?: number;
  /** Wait before the first send (ms): spreads many senders over their interval. */
  startDelayMs?: number;
}

/**
 * Sends `messages` messages into `chatId`, one every `intervalMs` (a send that finds
 * no ready socket waits in the unacknowledged set), and resends what is unacknowledged
 * on every `hello`, as the page's outbox does. A send answered `unavailable` (not
 * stored, or its outcome unknown) is sent again with the same clientMsgId after the
 * `retryAfterMs` it names, as a person pressing the page's retry would.
 */
export function sendSteadily(client: ReconnectingClient, chatId: string, options: SteadyOptions): SteadySender {
  const acked = new Map<string, number>();
  const refused = new Map<string, string>();
  const unacked = new Set<string>();
  let sent = 0;
  let retried = 0;
  const sendOne = (clientMsgId: string) => client.send({ type: 'send', chatId, clientMsgId, text: `steady ${clientMsgId}` });
  client.onReady(() => {
    for (const id of unacked) sendOne(id);
  });
  client.onFrame((frame) => {
    if (frame.type === 'ack' && frame.chatId === chatId) {
      const id = frame.clientMsgId as string;
      unacked.delete(id);
      acked.set(id, frame.seq as number);
      return;
    }
    const details = (frame.details ?? {}) as { chatId?: string; clientMsgId?: string; retryAfterMs?: number };
    if (frame.type !== 'error' || frame.frame !== 'send' || details.chatId !== chatId || !details.clientMsgId) return;
    const id = details.clientMsgId;
    if (!unacked.has(id)) return;
    if (frame.code === 'unavailable') {
      retried++;
      setTimeout(() => unacked.has(id) && sendOne(id), details.retryAfterMs ?? 1000);
    } else {
      unacked.delete(id);
      refused.set(id, frame.code as string);
    }
  });
  const done = (async () => {
    await client.ready;
    if (options.startDelayMs) await sleep(options.startDelayMs);
    for (let i = 0; i < options.messages; i++) {
      const id = `${client.who.username}-${i}`;
      unacked.add(id);
      sent++;
      sendOne(id);
      await sleep(options.intervalMs);
    }
    const deadline = Date.now() + (options.ackDeadlineMs ?? 30_000);
    while (acked.size + refused.size < options.messages && Date.now() < deadline) await sleep(50);
  })();
  return { client, chatId, acked, refused, retriedAfterUnavailable: () => retried, sent: () => sent, done };
}

export interface DeliveryCheck {
  chatId: string;
  sent: number;
  acked: number;
  /** Sends answered `unavailable` and sent again. */
  retried: number;
  stored: number;
  /** Acked but not stored, or stored but absent from what the receiver has after its sync. */
  lost: number;
  /** Stored more than once, or received live more than once. */
  doubled: number;
  /** What is wrong, in words; empty when nothing is. */
  problems: string[];
}

async function storedMessages(target: Target, reader: Person, chatId: string) {
  const all: { clientMsgId?: string; seq: number }[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await api<{ messages: { clientMsgId?: string; seq: number }[]; hasMore: boolean }>(
      target,
      reader,
      'GET',
      `/chats/${chatId}/messages?limit=100${before === undefined ? '' : `&before=${before}`}`,
    );
    if (page.status !== 200) throw new Error(`reading the history of ${chatId} failed: ${page.status}`);
    all.unshift(...page.body.messages);
    if (!page.body.hasMore || page.body.messages.length === 0) return all;
    before = page.body.messages[0]!.seq;
  }
}

/**
 * Compares what the sender was acked, what DynamoDB holds (history through `target`),
 * and what the receiver has: every message it got live, plus a sync from the start on
 * a fresh socket, as a client does after it reconnects.
 */
export async function checkDelivery(
  target: Target & { wsUrl: string },
  sender: SteadySender,
  receiver: ReconnectingClient,
): Promise<DeliveryCheck> {
  const problems: string[] = [];
  const name = sender.client.who.username;
  const stored = await storedMessages(target, sender.client.who, sender.chatId);
  const storedIds = stored.map((m) => m.clientMsgId);
  const storedSeqs = stored.map((m) => m.seq);
  const doubledInStore = storedIds.length - new Set(storedIds).size;
  if (doubledInStore > 0) problems.push(`${name}: ${doubledInStore} messages stored twice`);
  for (const m of stored) {
    const ackedSeq = sender.acked.get(m.clientMsgId ?? '');
    if (ackedSeq === undefined) problems.push(`${name}: ${m.clientMsgId} stored as ${m.seq} but never acked`);
    else if (ackedSeq !== m.seq) problems.push(`${name}: ${m.clientMsgId} stored as ${m.seq}, acked as ${ackedSeq}`);
  }
  const storedSet = new Set(storedIds);
  const ackedNotStored = [...sender.acked.keys()].filter((id) => !storedSet.has(id));
  if (ackedNotStored.length > 0) problems.push(`${name}: acked but not stored: ${ackedNotStored.join(', ')}`);
  for (const [id, code] of sender.refused) problems.push(`${name}: ${id} refused with ${code}`);
  const unanswered = sender.sent() - sender.acked.size - sender.refused.size;
  if (unanswered > 0) problems.push(`${name}: ${unanswered} of ${sender.sent()} sends never acked`);

  const live = receiver.received.filter((m) => m.chatId === sender.chatId).map((m) => m.seq);
  const doubledLive = live.length - new Set(live).size;
  if (doubledLive > 0) problems.push(`${name}: the receiver got ${doubledLive} messages twice live`);
  const unknownLive = live.filter((seq) => !storedSeqs.includes(seq));
  if (unknownLive.length > 0) problems.push(`${name}: the receiver got seqs that are not stored: ${unknownLive.join(', ')}`);

  const { client: fresh } = await connectReady(target.wsUrl, receiver.who.cookie);
  let syncedSeqs: number[];
  try {
    fresh.send({ type: 'sync', chats: [{ chatId: sender.chatId, lastSeq: 0 }] });
    const synced = await fresh.next('synced', (f) => f.chatId === sender.chatId);
    syncedSeqs = synced.messages.map((m) => m.seq);
  } finally {
    await fresh.close();
  }
  if (JSON.stringify(syncedSeqs) !== JSON.stringify(storedSeqs))
    problems.push(`${name}: the receiver's sync (${syncedSeqs.join(',')}) is not the stored order (${storedSeqs.join(',')})`);
  const lostForReceiver = storedSeqs.filter((seq) => !syncedSeqs.includes(seq) && !live.includes(seq)).length;

  return {
    chatId: sender.chatId,
    sent: sender.sent(),
    acked: sender.acked.size,
    retried: sender.retriedAfterUnavailable(),
    stored: stored.length,
    lost: ackedNotStored.length + lostForReceiver,
    doubled: doubledInStore + doubledLive,
    problems,
  };
}
