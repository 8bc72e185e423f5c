/**
 * Flood control per socket: a burst, then a steady rate; refusals answered at most
 * once a second; a sliding window of refusals that admitted frames do not reset.
 */
import t from 'tap';
import { FLOOD_LIMITS, FloodGuard, type FloodVerdict } from '../../src/transport/realtime/flood-guard.js';

function run(guard: FloodGuard, times: number[]): FloodVerdict[] {
  return times.map((at) => guard.check(at));
}

t.test('a flood is answered once per second, not once per dropped frame', async (t) => {
  const guard = new FloodGuard();
  // 4,900 pings in 5 s, as in the report: one every ~1 ms.
  const verdicts = run(
    guard,
    Array.from({ length: 4900 }, (_, i) => 1_000_000 + i),
  );
  const answered = verdicts.filter((v) => v === 'refuse').length;
  t.ok(answered <= 6, `at most one answer per second of flood (got ${answered})`);
  t.ok(verdicts.includes('close'), 'and the socket is closed');
  t.ok(verdicts.indexOf('close') < 300, 'soon after the refusals pass the threshold');
});

t.test('one admitted frame now and then does not reset the count that closes a flooder', async (t) => {
  const guard = new FloodGuard();
  const verdicts: FloodVerdict[] = [];
  let now = 1_000_000;
  // Drain the burst, then every 50 ms: one frame that a token admits and a burst of ten refused ones.
  for (let i = 0; i < FLOOD_LIMITS.burst; i++) verdicts.push(guard.check(now));
  for (let round = 0; round < 200 && !verdicts.includes('close'); round++) {
    now += 50;
    for (let i = 0; i < 11; i++) verdicts.push(guard.check(now));
  }
  t.ok(verdicts.includes('admit'), 'some frames are still admitted along the way');
  t.ok(verdicts.includes('close'), 'the flooder is closed anyway');
});

t.test('a client within the steady rate is never refused', async (t) => {
  const guard = new FloodGuard();
  const verdicts = run(
    guard,
    Array.from({ length: 2000 }, (_, i) => 1_000_000 + i * 60),
  );
  t.ok(
    verdicts.every((v) => v === 'admit'),
    'every frame at ~16/s is admitted',
  );
});

t.test('refusals older than the window no longer count', async (t) => {
  const guard = new FloodGuard();
  let now = 1_000_000;
  const nearly = FLOOD_LIMITS.closeAfterRefused - 10;
  for (let i = 0; i < FLOOD_LIMITS.burst + nearly; i++) guard.check(now);
  now += FLOOD_LIMITS.windowMs + 1;
  // The bucket refilled: drain it again and refuse as many once more.
  const verdicts = run(guard, new Array<number>(FLOOD_LIMITS.burst + nearly).fill(now));
  t.notOk(verdicts.includes('close'), 'two bursts of refusals a window apart do not add up');
});
