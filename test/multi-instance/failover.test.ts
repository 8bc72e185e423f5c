/**
 * One of three instances killed with SIGKILL under a steady send rate. Six pairs
 * of people, each sender on one instance sending to someone on the next, so the
 * killed instance holds senders and receivers. Its clients behave as the page does
 * (test/helpers/steady-clients.ts): after the page's jittered backoff they reconnect
 * through the load balancer, which routes them round robin to the instances still
 * running, and resend what was not acked. Nothing may be lost or doubled, and every
 * client that lost its socket must be back; the reconnect times are reported.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestStack } from '../helpers/test-stack.js';
import { startChildInstance, type ChildInstance } from '../helpers/child-instance.js';
import { openDirect, person } from '../helpers/people.js';
import { checkDelivery, connectReconnecting, sendSteadily, type ReconnectingClient, type SteadySender } from '../helpers/steady-clients.js';
import { percentile } from '../../scripts/load/percentile.js';

const PAIRS = 6;
const MESSAGES_EACH = 40;
const SEND_INTERVAL_MS = 100;

const stack = await startTestStack(t);

t.test('one of three instances killed under a steady send rate: clients move to the others, nothing lost', async (t) => {
  const instances: ChildInstance[] = [];
  for (let i = 0; i < 3; i++) instances.push(await startChildInstance(t, stack));
  const running = () => instances.filter((i) => i.process.exitCode === null && i.process.signalCode === null);
  let turn = 0;
  // The load balancer: a client's own instance while it runs, else the next running one, round robin.
  const routeFrom = (home: ChildInstance) => () => {
    if (running().includes(home)) return home.wsUrl;
    const live = running();
    return live[turn++ % live.length]!.wsUrl;
  };

  const ready: { sender: ReconnectingClient; receiver: ReconnectingClient; chatId: string }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const home = instances[i % 3]!;
    const away = instances[(i + 1) % 3]!;
    const senderPerson = await person(home, `s${i}`);
    const receiverPerson = await person(away, `r${i}`);
    const chatId = await openDirect(home, senderPerson, receiverPerson);
    const receiver = connectReconnecting(receiverPerson, routeFrom(away));
    const sender = connectReconnecting(senderPerson, routeFrom(home));
    t.teardown(() => receiver.stop());
    t.teardown(() => sender.stop());
    await Promise.all([receiver.ready, sender.ready]);
    ready.push({ sender, receiver, chatId });
  }
  const pairs: { sending: SteadySender; receiver: ReconnectingClient }[] = ready.map(({ sender, receiver, chatId }) => ({
    receiver,
    sending: sendSteadily(sender, chatId, { messages: MESSAGES_EACH, intervalMs: SEND_INTERVAL_MS }),
  }));
  const underWay = Date.now() + 20_000;
  while (pairs.some((p) => p.sending.acked.size < 5) && Date.now() < underWay) await sleep(20);
  t.ok(
    pairs.every((p) => p.sending.acked.size >= 5 && p.sending.acked.size < MESSAGES_EACH),
    'every sender is mid-stream when the instance dies',
  );

  const killed = instances[0]!;
  await killed.kill('SIGKILL');
  await Promise.all(pairs.map((p) => p.sending.done));

  const clients = pairs.flatMap((p) => [p.sending.client, p.receiver]);
  const cut = clients.filter((c) => c.closes.length > 0);
  t.equal(cut.length, (2 * PAIRS) / 3, "the killed instance's clients (two senders, two receivers) lost their sockets");
  t.same(
    cut.map((c) => c.closes),
    cut.map(() => [1006]),
    'each lost its socket once, abruptly (1006)',
  );
  // A final sync has to wait for a straggler that is still reconnecting.
  const backDeadline = Date.now() + 20_000;
  while (cut.some((c) => !c.isReady()) && Date.now() < backDeadline) await sleep(50);
  t.ok(
    cut.every((c) => c.reconnectMs.length === 1 && c.isReady()),
    'every one of them is connected again, to an instance still running',
  );

  const target = running()[0]!;
  for (const { sending, receiver } of pairs) {
    const name = sending.client.who.username;
    const check = await checkDelivery(target, sending, receiver);
    t.equal(check.acked, MESSAGES_EACH, `${name}: every message acked`);
    t.equal(check.stored, MESSAGES_EACH, `${name}: stored exactly ${MESSAGES_EACH} messages`);
    t.same(check.problems, [], `${name}: nothing lost, nothing doubled, in storage or at the receiver once synced`);
  }

  const times = cut.flatMap((c) => c.reconnectMs).sort((x, y) => x - y);
  t.comment(
    `reconnect (close to next hello) over ${times.length} clients: p50 ${Math.round(percentile(times, 50))} ms, ` +
      `p99 ${Math.round(percentile(times, 99))} ms, max ${Math.round(times.at(-1) ?? NaN)} ms`,
  );
});
