/**
 * What happens when parts die: an instance killed with SIGKILL (its users go
 * offline by expiry, nobody cleans up), and Redis killed and restarted (delivery
 * resumes without restarting any instance; clients recover what was published
 * meanwhile, also with several senders on both instances sending through the outage).
 */
import t from 'tap';
import { startTestStack, startInstance, type TestInstance } from '../helpers/test-stack.js';
import { startChildInstance } from '../helpers/child-instance.js';
import { redisServerUnavailable, startRedisServer } from '../helpers/redis-server.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady, type ChatClient } from '../helpers/ws-client.js';
import { checkDelivery, connectReconnecting, sendSteadily, type ReconnectingClient, type SteadySender } from '../helpers/steady-clients.js';
import { setTimeout as sleep } from 'node:timers/promises';

const stack = await startTestStack(t);

async function online(wsUrl: string, cookie: string): Promise<ChatClient> {
  const { client } = await connectReady(wsUrl, cookie);
  t.teardown(() => client.close());
  return client;
}

t.test('a killed instance: its users go offline within the presence expiry', async (t) => {
  const env = { PRESENCE_TTL_MS: '1500', REDIS_KEY_PREFIX: `${stack.redisKeyPrefix}crash:` };
  const a = await startInstance(t, stack, env);
  const b = await startChildInstance(t, stack, env);
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  await openDirect(a, alice, bob);
  const aliceSocket = await online(a.wsUrl, alice.cookie);
  const bobSocket = await online(b.wsUrl, bob.cookie);
  await aliceSocket.next('presence', (f) => f.userId === bob.userId && f.online);

  await b.kill('SIGKILL');
  await bobSocket.closed;
  // Within a few expiries (the deadline is generous for a loaded machine; the
  // figure that matters is that nobody removed bob's record).
  const offline = await aliceSocket.next('presence', (f) => f.userId === bob.userId && !f.online, 15_000);
  t.equal(offline.online, false, 'alice sees bob go offline with no instance cleaning up');
});

const noRedisServer = redisServerUnavailable();
const restartSkip = noRedisServer ? `needs a throwaway redis-server to kill and restart: ${noRedisServer}` : false;

t.test('Redis restarted: delivery resumes and clients recover what was published meanwhile', { skip: restartSkip }, async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.close());
  const env = { REDIS_URL: redis.url };
  const a = await startInstance(t, stack, env);
  const b = await startInstance(t, stack, env);
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  const chatId = await openDirect(a, alice, bob);
  const aliceSocket = await online(a.wsUrl, alice.cookie);
  const bobSocket = await online(b.wsUrl, bob.cookie);

  aliceSocket.send({ type: 'send', chatId, clientMsgId: 'before', text: 'before the outage' });
  await bobSocket.next('message', (f) => f.message.clientMsgId === 'before');

  await redis.kill();
  aliceSocket.send({ type: 'send', chatId, clientMsgId: 'during', text: 'while Redis is down' });
  const ack = await aliceSocket.next('ack', (f) => f.clientMsgId === 'during');
  t.equal(ack.seq, 2, 'sending still works: the message is stored and acked');

  await redis.restart();
  const resync = await bobSocket.next('resync', (f) => f.reason === 'bus_reconnected', 20_000);
  t.ok(resync, 'bob is told that something may be missing');
  bobSocket.send({ type: 'sync', chats: [{ chatId, lastSeq: 1 }] });
  const synced = await bobSocket.next('synced', (f) => f.chatId === chatId);
  t.same(
    synced.messages.map((m) => m.text),
    ['while Redis is down'],
    'sync returns what the bus lost',
  );

  // Subscriptions come back by themselves: a new message is live again, both ways. Typing is
  // at most once, so it is only expected once alice's instance has re-subscribed as well.
  await aliceSocket.next('resync', (f) => f.reason === 'bus_reconnected', 20_000);
  aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'back again' });
  const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after', 10_000);
  t.equal(live.message.seq, 3, 'live delivery resumed without restarting an instance');
  bobSocket.send({ type: 'typing', chatId });
  await aliceSocket.next('typing', (f) => f.userId === bob.userId);
  t.pass('and from the other instance too');
});

t.test('Redis restarted under a steady send rate from both instances: nothing lost, nothing doubled', { skip: restartSkip }, async (t) => {
  const MESSAGES_EACH = 40;
  const SEND_INTERVAL_MS = 80;
  const redis = await startRedisServer();
  t.teardown(() => redis.close());
  const env = { REDIS_URL: redis.url };
  const instances = [await startInstance(t, stack, env), await startInstance(t, stack, env)];
  // Four pairs: two senders on each instance, each sending to someone on the other one.
  const pairs: { receiver: ReconnectingClient; sending: SteadySender; home: TestInstance }[] = [];
  for (let i = 0; i < 4; i++) {
    const home = instances[i % 2]!;
    const away = instances[(i + 1) % 2]!;
    const senderPerson = await person(home, `s${i}`);
    const receiverPerson = await person(away, `r${i}`);
    const chatId = await openDirect(home, senderPerson, receiverPerson);
    const receiver = connectReconnecting(receiverPerson, () => away.wsUrl);
    const sender = connectReconnecting(senderPerson, () => home.wsUrl);
    t.teardown(() => receiver.stop());
    t.teardown(() => sender.stop());
    await receiver.ready;
    pairs.push({ receiver, sending: sendSteadily(sender, chatId, { messages: MESSAGES_EACH, intervalMs: SEND_INTERVAL_MS }), home });
  }
  const acked = () => pairs.reduce((n, p) => n + p.sending.acked.size, 0);
  const underWay = Date.now() + 20_000;
  while (pairs.some((p) => p.sending.acked.size < 5) && Date.now() < underWay) await sleep(20);

  await redis.kill();
  const ackedAtKill = acked();
  // Away for at least a second, and until some sends were stored without it (the first ones
  // wait for the sequencer to notice it is gone, longer on a loaded machine).
  const awayUntil = Date.now() + 15_000;
  await sleep(1000);
  while (acked() === ackedAtKill && Date.now() < awayUntil) await sleep(20);
  await redis.restart();
  const ackedAtRestart = acked();
  await Promise.all(pairs.map((p) => p.sending.done));
  t.ok(ackedAtKill < 4 * MESSAGES_EACH, 'Redis went away while every sender was mid-stream');
  t.ok(ackedAtRestart > ackedAtKill, `sends kept being stored while Redis was away (${ackedAtRestart - ackedAtKill} acked)`);

  let live = 0;
  for (const { receiver, sending, home } of pairs) {
    const name = sending.client.who.username;
    live += receiver.received.filter((m) => m.chatId === sending.chatId).length;
    const check = await checkDelivery(home, sending, receiver);
    t.equal(check.acked, MESSAGES_EACH, `${name}: every message acked`);
    t.equal(check.stored, MESSAGES_EACH, `${name}: stored exactly ${MESSAGES_EACH} messages`);
    t.same(check.problems, [], `${name}: nothing lost, nothing doubled, in storage or at the receiver once synced`);
  }
  t.comment(`${live} of ${4 * MESSAGES_EACH} messages arrived live; sync brought the rest`);
});
