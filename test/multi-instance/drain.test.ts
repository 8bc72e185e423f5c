/**
 * An instance leaving while its clients keep sending: real clients on two
 * instances, each sender sending at a steady rate to someone on the other
 * instance. The sender's instance is drained (SIGTERM: sockets closed with 1012,
 * spread) or cut (SIGKILL: the sockets just drop, as when the load balancer cuts
 * them). Clients behave as the page does: on any close they reconnect (here, to
 * the instance that stays, as the load balancer would route them), and resend
 * every unacknowledged message with its original clientMsgId. Nothing may be lost
 * and nothing doubled, in storage or in what the receiver gets.
 */
import t, { type Test as Tap } from 'tap';
import WebSocket from 'ws';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { startChildInstance, type ChildInstance } from '../helpers/child-instance.js';
import { api, openDirect, person, type Person } from '../helpers/people.js';
import { connect, connectReady, textOf, type ChatClient } from '../helpers/ws-client.js';

const stack = await startTestStack(t);
const stays = await startInstance(t, stack);

const SENDERS = 4;
const MESSAGES_EACH = 40;
const SEND_INTERVAL_MS = 80;

interface Sender {
  who: Person;
  chatId: string;
  /** clientMsgId -> seq, from acks. */
  acked: Map<string, number>;
  /** Close codes of the sockets this sender lost. */
  closes: number[];
  done: Promise<void>;
}

/**
 * Sends MESSAGES_EACH messages, one every SEND_INTERVAL_MS, through `firstUrl`;
 * after a close, reconnects through `route()` and resends what was not acked.
 */
function startSender(who: Person, chatId: string, firstUrl: string, route: () => string): Sender {
  const acked = new Map<string, number>();
  const unacked = new Set<string>();
  const closes: number[] = [];
  let socket: WebSocket | undefined;
  let ready = false;
  const textFor = (id: string) => `steady ${id}`;
  const sendOne = (id: string) => {
    if (ready && socket?.readyState === WebSocket.OPEN)
      socket.send(JSON.stringify({ type: 'send', chatId, clientMsgId: id, text: textFor(id) }));
  };

  const open = (url: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = new WebSocket(url, { headers: { cookie: who.cookie, origin: new URL(url.replace(/^ws/, 'http')).origin } });
      socket = s;
      ready = false;
      s.on('message', (data) => {
        const frame = JSON.parse(textOf(data)) as { type: string; clientMsgId?: string; seq?: number; code?: string };
        if (frame.type === 'hello') {
          ready = true;
          for (const id of unacked) sendOne(id);
          resolve();
        } else if (frame.type === 'ack' && frame.clientMsgId) {
          unacked.delete(frame.clientMsgId);
          acked.set(frame.clientMsgId, frame.seq!);
        }
      });
      s.on('error', reject);
      s.on('close', (code) => {
        if (socket !== s) return;
        ready = false;
        closes.push(code);
        reconnect();
      });
    });

  const reconnect = () => {
    // The page waits a jittered moment; a short one keeps the test quick.
    void sleep(50 + Math.random() * 100).then(() =>
      open(route()).catch(() => {
        // open again when the close of the failed attempt arrives
      }),
    );
  };

  const done = (async () => {
    await open(firstUrl);
    for (let i = 0; i < MESSAGES_EACH; i++) {
      const id = `${who.username}-${i}`;
      unacked.add(id);
      sendOne(id);
      await sleep(SEND_INTERVAL_MS);
    }
    const deadline = Date.now() + 30_000;
    while (acked.size < MESSAGES_EACH && Date.now() < deadline) await sleep(50);
    socket?.removeAllListeners('close');
    socket?.close(1000);
  })();
  return { who, chatId, acked, closes, done };
}

async function scenario(t: Tap, leaving: ChildInstance, stop: (instance: ChildInstance) => Promise<void>) {
  const receiver = await person(stays, 'rita');
  const { client: receiverSocket } = await connectReady(stays.wsUrl, receiver.cookie);
  t.teardown(() => receiverSocket.close());
  let target = leaving.wsUrl;
  const route = () => target;

  const senders: Sender[] = [];
  for (let i = 0; i < SENDERS; i++) {
    const who = await person(stays, `s${i}`);
    const chatId = await openDirect(stays, who, receiver);
    await receiverSocket.next('chat', (f) => f.chat.chatId === chatId);
    senders.push(startSender(who, chatId, leaving.wsUrl, route));
  }
  // Under way on the leaving instance: every sender has had messages stored through it.
  const deadline = Date.now() + 20_000;
  while (senders.some((s) => s.acked.size < 5) && Date.now() < deadline) await sleep(20);
  t.ok(
    senders.every((s) => s.acked.size >= 5 && s.acked.size < MESSAGES_EACH),
    'every sender is mid-stream on the leaving instance',
  );

  // From now on the load balancer sends new connections to the instance that stays.
  target = stays.wsUrl;
  await stop(leaving);
  await Promise.all(senders.map((s) => s.done));

  for (const sender of senders) {
    const name = sender.who.username;
    t.equal(sender.acked.size, MESSAGES_EACH, `${name}: every message acked`);
    const seqs = [...sender.acked.values()];
    t.equal(new Set(seqs).size, seqs.length, `${name}: every message has a seq of its own`);
    const history = await api<{ messages: { clientMsgId?: string; seq: number }[] }>(
      stays,
      sender.who,
      'GET',
      `/chats/${sender.chatId}/messages?limit=100`,
    );
    const stored = history.body.messages.map((m) => m.clientMsgId);
    t.equal(stored.length, MESSAGES_EACH, `${name}: stored exactly ${MESSAGES_EACH} messages`);
    t.equal(new Set(stored).size, MESSAGES_EACH, `${name}: none of them twice`);
    for (const m of history.body.messages) {
      if (sender.acked.get(m.clientMsgId!) !== m.seq)
        t.fail(`${name}: ${m.clientMsgId} stored as ${m.seq}, acked as ${sender.acked.get(m.clientMsgId!)}`);
    }

    // The receiver: what arrived live, then a sync from the start, as after a reconnect.
    const live = receiverSocket.frames.filter(
      (f): f is Extract<typeof f, { type: 'message' }> => f.type === 'message' && f.message.chatId === sender.chatId,
    );
    const liveSeqs = live.map((f) => f.message.seq);
    t.equal(new Set(liveSeqs).size, liveSeqs.length, `${name}: the receiver got no message twice`);
    receiverSocket.send({ type: 'sync', chats: [{ chatId: sender.chatId, lastSeq: 0 }] });
    const synced = await receiverSocket.next('synced', (f) => f.chatId === sender.chatId);
    const seen = new Set([...liveSeqs, ...synced.messages.map((m) => m.seq)]);
    t.same(
      [...seen].sort((x, y) => x - y),
      [...new Set(seqs)].sort((x, y) => x - y),
      `${name}: the receiver has every message (${live.length} of ${MESSAGES_EACH} live)`,
    );
  }
  return senders;
}

t.test('drained with SIGTERM: 1012 spread over the drain, nothing lost, nothing doubled, exit 0', async (t) => {
  const leaving = await startChildInstance(t, stack, { DRAIN_SPREAD_MS: '3000' });
  let exitCode: number | null = null;
  leaving.process.once('exit', (code) => (exitCode = code));
  let refusedUpgrade: number | undefined;
  const senders = await scenario(t, leaving, async (instance) => {
    instance.process.kill('SIGTERM');
    // While it drains, the instance tells the load balancer to stop sending and refuses new sockets.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${instance.baseUrl}/healthz`).catch(() => undefined);
      if (res?.status === 503) break;
      await sleep(20);
    }
    const late = await person(stays, 'late');
    const attempt = await connect(instance.wsUrl, { cookie: late.cookie }).catch((err: { statusCode?: number }) => err);
    refusedUpgrade = (attempt as { statusCode?: number }).statusCode;
    if (!refusedUpgrade) await (attempt as ChatClient).close();
  });
  await leaving.kill('SIGTERM');
  t.equal(refusedUpgrade, 503, 'a new socket is refused while draining');
  t.same(
    senders.map((s) => s.closes),
    senders.map(() => [1012]),
    'every socket on the drained instance was closed once, with 1012',
  );
  t.equal(exitCode, 0, 'the drained instance exits cleanly');
});

t.test('cut abruptly (SIGKILL, as a load balancer cutting sockets): nothing lost, nothing doubled', async (t) => {
  const leaving = await startChildInstance(t, stack);
  const senders = await scenario(t, leaving, (instance) => instance.kill('SIGKILL'));
  t.same(
    senders.map((s) => s.closes),
    senders.map(() => [1006]),
    'every socket was cut (1006)',
  );
});
