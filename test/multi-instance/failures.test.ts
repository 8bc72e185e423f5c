/**
 * What happens when parts die: an instance killed with SIGKILL (its users go
 * offline by expiry, nobody cleans up), and Redis killed and restarted (delivery
 * resumes without restarting any instance; clients recover what was published
 * meanwhile).
 */
import t from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { startChildInstance } from '../helpers/child-instance.js';
import { redisServerUnavailable, startRedisServer } from '../helpers/redis-server.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady, type ChatClient } from '../helpers/ws-client.js';

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

  // Subscriptions come back by themselves: a new message is live again, both ways.
  aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'back again' });
  const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after', 10_000);
  t.equal(live.message.seq, 3, 'live delivery resumed without restarting an instance');
  bobSocket.send({ type: 'typing', chatId });
  await aliceSocket.next('typing', (f) => f.userId === bob.userId);
  t.pass('and from the other instance too');
});
