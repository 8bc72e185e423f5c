/**
 * A Redis that demands a password (as ElastiCache with an auth token does): with
 * REDIS_AUTH_TOKEN set and no password in REDIS_URL, every connection the
 * instance opens (bus, presence, sequencer) authenticates.
 */
import t from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { redisServerUnavailable, startRedisServer } from '../helpers/redis-server.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady } from '../helpers/ws-client.js';

const noRedisServer = redisServerUnavailable();

t.test(
  'REDIS_AUTH_TOKEN reaches the bus, presence and the sequencer',
  { skip: noRedisServer ? `needs a redis-server to start with a password: ${noRedisServer}` : false },
  async (t) => {
    const stack = await startTestStack(t);
    const token = 'a-token-from-a-secret-0123456789';
    const redis = await startRedisServer({ args: ['--requirepass', token] });
    t.teardown(() => redis.close());
    const instance = await startInstance(t, stack, { REDIS_URL: redis.url, REDIS_AUTH_TOKEN: token });
    const ready = (await (await fetch(`${instance.baseUrl}/readyz`)).json()) as { checks: Record<string, string> };
    t.equal(ready.checks.bus, 'ok', 'the bus answers');

    const ann = await person(instance, 'ann');
    const ben = await person(instance, 'ben');
    const chatId = await openDirect(instance, ann, ben);
    const { client: annSocket } = await connectReady(instance.wsUrl, ann.cookie);
    const { client: benSocket } = await connectReady(instance.wsUrl, ben.cookie);
    t.teardown(() => Promise.all([annSocket.close(), benSocket.close()]));
    await annSocket.next('presence', (f) => f.userId === ben.userId && f.online);
    t.pass('presence works through the authenticated connection');
    annSocket.send({ type: 'send', chatId, clientMsgId: 'auth-1', text: 'through an authenticated Redis' });
    const ack = await annSocket.next('ack', (f) => f.clientMsgId === 'auth-1');
    t.equal(ack.seq, 1, 'the Redis sequencer handed out the seq');
    await benSocket.next('message', (f) => f.message.clientMsgId === 'auth-1');
    t.pass('and the bus delivered the message');
  },
);
