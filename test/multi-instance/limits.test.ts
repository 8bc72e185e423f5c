/**
 * Limits that hold across the fleet and cannot be sidestepped: the HTTP budget is
 * shared through Redis (one, or a Redis Cluster) by two instances, a made-up cookie counts as its address,
 * a forged X-Forwarded-For does not move a client to a fresh budget, and one user
 * cannot open sockets without bound.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { person } from '../helpers/people.js';
import { connect, connectReady } from '../helpers/ws-client.js';
import { redisServerUnavailable, startRedisCluster } from '../helpers/redis-server.js';

const stack = await startTestStack(t);

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

const madeUpCookie = () => `huddle_session=${randomBytes(32).toString('base64url')}`;

/** Where the shared counters live: the test run's Redis, and a local three-master Redis Cluster. */
const noCluster = redisServerUnavailable();
const cluster = noCluster ? undefined : await startRedisCluster({ masters: 3 });
if (cluster) t.teardown(() => cluster.close());

for (const [redis, redisEnv] of [
  ['one Redis', {}],
  ['Redis Cluster', cluster ? { REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' } : undefined],
] as const) {
  t.test(
    `one budget per session across instances, kept in Redis (${redis})`,
    { skip: redisEnv ? false : `cannot start a local Redis Cluster: ${noCluster}` },
    async (t) => {
      const env = { HTTP_RATE_LIMIT_PER_MINUTE: '6', REDIS_KEY_PREFIX: `${stack.redisKeyPrefix}shared:`, ...redisEnv };
      const a = await startInstance(t, stack, env);
      const b = await startInstance(t, stack, env);
      const ann = await person(a, 'ann');
      const statuses: number[] = [];
      for (const instance of [a, b, a, b, a, b, a, b]) statuses.push(await status(`${instance.baseUrl}/api/chats`, { cookie: ann.cookie }));
      t.same(statuses.slice(0, 6), [200, 200, 200, 200, 200, 200], 'six requests spread over two instances pass');
      t.same(statuses.slice(6), [429, 429], 'the seventh is refused on either instance: the budget is not per instance');
    },
  );
}

t.test('a made-up cookie per request gets no fresh budget', async (t) => {
  const instance = await startInstance(t, stack, {
    HTTP_RATE_LIMIT_PER_MINUTE: '5',
    REDIS_KEY_PREFIX: `${stack.redisKeyPrefix}madeup:`,
  });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push(await status(`${instance.baseUrl}/api/chats`, { cookie: madeUpCookie() }));
  t.same(statuses.slice(0, 5), [401, 401, 401, 401, 401], 'a cookie that opens no session is a 401');
  t.same(statuses.slice(5), [429, 429, 429], 'and each counts against the address, so the address runs out');
  for (let i = 0; i < 6; i++) statuses.push(await status(`${instance.baseUrl}/`, { cookie: madeUpCookie() }));
  t.equal(statuses.at(-1), 429, 'on public routes too, a made-up cookie counts as the address');
});

t.test('behind one trusted proxy hop, a client cannot choose its address', async (t) => {
  const instance = await startInstance(t, stack, {
    HTTP_RATE_LIMIT_PER_MINUTE: '4',
    TRUST_PROXY: 'true',
    REDIS_KEY_PREFIX: `${stack.redisKeyPrefix}proxy:`,
  });
  // The ALB appends the address it saw (here always the same); the client writes whatever it likes before it.
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(await status(`${instance.baseUrl}/`, { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` }));
  }
  t.same(statuses, [200, 200, 200, 200, 429, 429], 'a different left-most address each time shares one budget');
  t.equal(
    await status(`${instance.baseUrl}/`, { 'x-forwarded-for': '198.51.100.8' }),
    200,
    'another address the load balancer saw has its own budget',
  );
});

t.test('one user may hold at most WS_MAX_SOCKETS_PER_USER sockets on an instance', async (t) => {
  const instance = await startInstance(t, stack, { WS_MAX_SOCKETS_PER_USER: '2' });
  const dan = await person(instance, 'dan');
  const first = await connectReady(instance.wsUrl, dan.cookie);
  const second = await connectReady(instance.wsUrl, dan.cookie);
  t.teardown(() => Promise.all([first.client.close(), second.client.close()]));
  const third = await connect(instance.wsUrl, { cookie: dan.cookie }).catch((err: { statusCode?: number }) => err);
  t.equal((third as { statusCode?: number }).statusCode, 429, 'the third upgrade is refused with 429');
  await first.client.close();
  // The close reaches the server a moment after the client sees it.
  let reopened;
  for (let attempt = 0; attempt < 50 && !reopened; attempt++) {
    reopened = await connect(instance.wsUrl, { cookie: dan.cookie }).catch(() => undefined);
    if (!reopened) await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(reopened, 'closing one makes room for another');
  await reopened?.close();
});

t.test('a socket that floods is answered once a second at most, then closed', async (t) => {
  const instance = await startInstance(t, stack);
  const eve = await person(instance, 'eve');
  const { client } = await connectReady(instance.wsUrl, eve.cookie);
  t.teardown(() => client.close());
  for (let i = 0; i < 600 && client.socket.readyState === client.socket.OPEN; i++) client.send({ type: 'ping', id: `p${i}` });
  const closed = await client.closed;
  t.equal(closed.code, 4009, 'closed for flooding');
  const refusals = client.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited').length;
  t.ok(refusals >= 1 && refusals <= 3, `the refused frames got ${refusals} answer(s), not one each`);
});
