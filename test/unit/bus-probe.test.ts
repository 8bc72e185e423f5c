/**
 * The bus self-probe's judgement, with the Redis round trip played by the test: a probe
 * Redis acknowledged that does not come back means stuck (once per episode, restored every
 * interval while it lasts); one Redis never acknowledged is not judged and nothing piles
 * up behind it, and re-opens the publisher only when its connection looks open (frozen);
 * one that comes back clears the state.
 */
import t from 'tap';
import { createBusProbe } from '../../src/adapters/redis/bus-probe.js';
import { silentLogger } from '../../src/domain/logger.js';
import { until } from '../helpers/until.js';

const INTERVAL_MS = 20;

function harness(publish: (token: string) => Promise<unknown>, publisher = { looksConnected: false }) {
  const seen = { published: [] as string[], restores: 0, stuckEpisodes: 0, publisherRestores: 0 };
  const probe = createBusProbe({
    intervalMs: INTERVAL_MS,
    publish(token) {
      seen.published.push(token);
      return publish(token);
    },
    restore: () => (seen.restores += 1),
    onStuck: () => (seen.stuckEpisodes += 1),
    publisherLooksConnected: () => publisher.looksConnected,
    restorePublisher: () => (seen.publisherRestores += 1),
    logger: silentLogger,
  });
  return { probe, seen };
}

t.test('probes that come back keep the bus ready', async (t) => {
  const { probe, seen } = harness(async (token) => {
    setImmediate(() => probe.received(token));
  });
  t.teardown(() => probe.stop());
  probe.start();
  await until(() => seen.published.length >= 5, 'five probes');
  t.equal(seen.restores, 0, 'nothing restored');
  t.equal(probe.stuckReason(), undefined, 'ready');
});

t.test('an acknowledged probe that never comes back: stuck, restored each interval, counted once; a probe back clears it', async (t) => {
  let deaf = true;
  const { probe, seen } = harness(async (token) => {
    if (!deaf) setImmediate(() => probe.received(token));
  });
  t.teardown(() => probe.stop());
  probe.start();
  await until(() => seen.restores >= 3, 'three restores');
  t.equal(seen.stuckEpisodes, 1, 'one stuck episode, however many restores');
  t.match(probe.stuckReason(), /stuck/, 'not ready, saying why');

  deaf = false;
  probe.probeNow(); // what the bus does once the re-opened connection re-subscribed
  await until(() => probe.stuckReason() === undefined, 'the state to clear');
  const restores = seen.restores;
  await until(() => seen.published.length >= restores + 5, 'more probes');
  t.equal(seen.restores, restores, 'no restore once probes come back');
});

t.test('a probe Redis never acknowledged is not judged, and no second one queues behind it', async (t) => {
  const { probe, seen } = harness(() => new Promise(() => {}));
  t.teardown(() => probe.stop());
  probe.start();
  await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 10));
  t.equal(seen.published.length, 1, 'one probe in flight');
  t.equal(seen.restores, 0, 'the subscriber is not blamed for the publisher');
  t.equal(seen.publisherRestores, 0, 'a publisher that is reconnecting on its own is left to it');
  t.equal(probe.stuckReason(), undefined);
});

t.test(
  'a PUBLISH unanswered on a connection that looks open: the publisher is re-opened each interval until the probe is answered',
  async (t) => {
    let frozen = true;
    let answerHeld: (() => void) | undefined;
    const { probe, seen } = harness(
      (token) =>
        new Promise<void>((resolve) => {
          const answer = () => {
            resolve();
            setImmediate(() => probe.received(token));
          };
          if (frozen) answerHeld = answer;
          else answer();
        }),
      { looksConnected: true },
    );
    t.teardown(() => probe.stop());
    probe.start();
    await until(() => seen.publisherRestores >= 2, 'two publisher restores');
    t.equal(seen.published.length, 1, 'no second probe behind the unanswered one');
    t.equal(seen.restores, 0, 'the subscriber is not re-opened');
    t.equal(seen.stuckEpisodes, 0, 'nor counted as stuck');

    // The re-opened connection sends the held PUBLISH again; Redis answers and the probe comes back.
    frozen = false;
    answerHeld!();
    await until(() => seen.published.length >= 3, 'probes flowing again');
    const restores = seen.publisherRestores;
    await until(() => seen.published.length >= 6, 'more probes');
    t.equal(seen.publisherRestores, restores, 'no restore once PUBLISHes are answered');
    t.equal(probe.stuckReason(), undefined, 'ready');
  },
);

t.test('a late probe from an earlier round does not clear a newer one', async (t) => {
  const { probe, seen } = harness(async () => {});
  t.teardown(() => probe.stop());
  probe.start();
  await until(() => seen.restores >= 1, 'the first restore');
  probe.received(seen.published[0]!);
  t.match(probe.stuckReason(), /stuck/, 'still stuck: only the probe in flight counts');
});
