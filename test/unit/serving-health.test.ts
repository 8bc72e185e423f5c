import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServingHealth } from '../../src/transport/http/serving-health.js';

function stall(ms: number) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the event loop cannot turn
  }
}

t.test('a stall past the threshold stops serving, and serving resumes once it leaves the last two windows', async (t) => {
  const health = new ServingHealth({ stallThresholdMs: 150, windowMs: 200 });
  t.teardown(() => health.close());
  await sleep(50);
  t.same(health.verdict(), { serving: true });
  stall(300);
  await sleep(30);
  const verdict = health.verdict();
  t.match(verdict, { serving: false, reason: 'event_loop_stalled' });
  t.ok(health.recentEventLoopDelayMs() >= 150);
  await sleep(700);
  t.same(health.verdict(), { serving: true }, 'recovered without anyone resetting it');
});

t.test('a short pause below the threshold keeps serving', async (t) => {
  const health = new ServingHealth({ stallThresholdMs: 500, windowMs: 200 });
  t.teardown(() => health.close());
  stall(100);
  await sleep(30);
  t.same(health.verdict(), { serving: true });
});

t.test('draining wins over everything and does not end', async (t) => {
  const health = new ServingHealth({ stallThresholdMs: 1000 });
  t.teardown(() => health.close());
  t.equal(health.draining, false);
  health.startDraining();
  health.startDraining();
  t.equal(health.draining, true);
  t.same(health.verdict(), { serving: false, reason: 'draining' });
});
