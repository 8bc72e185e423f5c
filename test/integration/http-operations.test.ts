/**
 * What operators and the load balancer see: liveness, readiness naming the
 * dependency that failed, and the per-client request budget.
 */
import t from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { freePort } from '../helpers/free-port.js';
import { redisServerUnavailable, startRedisServer } from '../helpers/redis-server.js';
import { person } from '../helpers/people.js';

const stack = await startTestStack(t);

async function getJson(url: string, cookie?: string) {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

t.test('healthz and readyz answer when everything is up', async (t) => {
  const instance = await startInstance(t, stack);
  t.same(await getJson(`${instance.baseUrl}/healthz`), { status: 200, body: { status: 'ok' } });
  const ready = await getJson(`${instance.baseUrl}/readyz`);
  t.equal(ready.status, 200);
  t.same(ready.body.checks, { dynamodb: 'ok', s3: 'ok', bus: 'ok' });
});

t.test('readyz names S3 when it does not answer', async (t) => {
  const closedPort = await freePort();
  const instance = await startInstance(t, stack, { S3_ENDPOINT: `http://127.0.0.1:${closedPort}` });
  const ready = await getJson(`${instance.baseUrl}/readyz`);
  t.equal(ready.status, 503);
  t.same(ready.body.failed, ['s3']);
  t.equal((await getJson(`${instance.baseUrl}/healthz`)).status, 200, 'the process itself is still alive');
});

const noRedisServer = redisServerUnavailable();
t.test(
  'readyz names the bus while Redis is down, and recovers with it',
  { skip: noRedisServer ? `needs a throwaway redis-server to stop: ${noRedisServer}` : false },
  async (t) => {
    const redis = await startRedisServer();
    t.teardown(() => redis.close());
    const instance = await startInstance(t, stack, { REDIS_URL: redis.url });
    t.equal((await getJson(`${instance.baseUrl}/readyz`)).status, 200);
    await redis.kill();
    const down = await getJson(`${instance.baseUrl}/readyz`);
    t.equal(down.status, 503);
    t.same(down.body.failed, ['bus']);
    t.equal(
      (await getJson(`${instance.baseUrl}/healthz`)).status,
      200,
      'the load balancer keeps sending traffic: Redis is not this instance',
    );
    await redis.restart();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await getJson(`${instance.baseUrl}/readyz`)).status;
    }
    t.equal(status, 200, 'ready again once Redis is back, without a restart');
  },
);

t.test('healthz asks for no traffic while the instance drains; readyz still reports the dependencies', async (t) => {
  const instance = await startInstance(t, stack);
  instance.app.serving.startDraining();
  t.same(await getJson(`${instance.baseUrl}/healthz`), { status: 503, body: { status: 'draining' } });
  const ready = await getJson(`${instance.baseUrl}/readyz`);
  t.same(ready, { status: 200, body: { status: 'ready', failed: [], checks: { dynamodb: 'ok', s3: 'ok', bus: 'ok' } } });
});

t.test('healthz asks for no traffic after the event loop stalled past the threshold', async (t) => {
  const instance = await startInstance(t, stack, { EVENT_LOOP_STALL_MS: '200' });
  t.equal((await getJson(`${instance.baseUrl}/healthz`)).status, 200, 'serving before the stall');
  // The instance runs in this process: blocking here stalls its event loop.
  const until = Date.now() + 500;
  while (Date.now() < until) {
    // busy
  }
  const stalled = await getJson(`${instance.baseUrl}/healthz`);
  t.equal(stalled.status, 503);
  t.equal(stalled.body.status, 'event_loop_stalled');
  t.ok(Number(stalled.body.eventLoopDelayMs) >= 200, `the delay it saw is reported (${String(stalled.body.eventLoopDelayMs)} ms)`);
});

t.test('each client has a request budget; past it, 429 with a JSON error', async (t) => {
  const instance = await startInstance(t, stack, { HTTP_RATE_LIMIT_PER_MINUTE: '5' });
  const ann = await person(instance, 'ann');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await getJson(`${instance.baseUrl}/api/chats`, ann.cookie)).status);
  t.same(statuses, [200, 200, 200, 200, 200, 429]);
  const refused = await getJson(`${instance.baseUrl}/api/chats`, ann.cookie);
  t.match(refused.body, { error: { code: 'rate_limited' } });
  const bob = await person(instance, 'bob');
  t.equal((await getJson(`${instance.baseUrl}/api/chats`, bob.cookie)).status, 200, 'another signed-in person has a budget of their own');
  for (let i = 0; i < 10; i++) {
    if ((await getJson(`${instance.baseUrl}/healthz`)).status !== 200) t.fail('health checks are never limited');
  }
  t.pass('health checks are not counted');
});
