/**
 * An instance leaving while its clients keep sending: real clients on two
 * instances, each sender sending at a steady rate to someone on the other
 * instance. The sender's instance is drained (SIGTERM: sockets closed with 1012,
 * spread) or cut (SIGKILL: the sockets just drop, as when the load balancer cuts
 * them). Clients behave as the page does (test/helpers/steady-clients.ts): on any
 * close they wait the page's backoff, reconnect (here, to the instance that stays,
 * as the load balancer would route them), and resend every unacknowledged message
 * with its original clientMsgId. Nothing may be lost and nothing doubled, in storage
 * or in what the receiver gets.
 */
import t, { type Test as Tap } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { startChildInstance, type ChildInstance } from '../helpers/child-instance.js';
import { openDirect, person } from '../helpers/people.js';
import { connect, type ChatClient } from '../helpers/ws-client.js';
import { checkDelivery, connectReconnecting, sendSteadily, type SteadySender } from '../helpers/steady-clients.js';

const stack = await startTestStack(t);
const stays = await startInstance(t, stack);

const SENDERS = 4;
const MESSAGES_EACH = 40;
const SEND_INTERVAL_MS = 80;

async function scenario(t: Tap, leaving: ChildInstance, stop: (instance: ChildInstance) => Promise<void>) {
  const receiver = connectReconnecting(await person(stays, 'rita'), () => stays.wsUrl);
  t.teardown(() => receiver.stop());
  await receiver.ready;
  let target = leaving.wsUrl;
  const route = () => target;

  const senders: SteadySender[] = [];
  for (let i = 0; i < SENDERS; i++) {
    const who = await person(stays, `s${i}`);
    const chatId = await openDirect(stays, who, receiver.who);
    const client = connectReconnecting(who, route);
    t.teardown(() => client.stop());
    senders.push(sendSteadily(client, chatId, { messages: MESSAGES_EACH, intervalMs: SEND_INTERVAL_MS }));
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
    const name = sender.client.who.username;
    const check = await checkDelivery(stays, sender, receiver);
    t.equal(check.acked, MESSAGES_EACH, `${name}: every message acked`);
    t.equal(check.stored, MESSAGES_EACH, `${name}: stored exactly ${MESSAGES_EACH} messages`);
    t.same(check.problems, [], `${name}: nothing lost, nothing doubled, in storage or at the receiver`);
  }
  return senders.map((s) => s.client);
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
