import t from 'tap';
import { ChatTimeline } from '../../src/web/reorder-buffer.js';
import type { Message as TimelineMessage } from '../../src/web/wire.js';

/** Timers that only move when the test says so. */
function manualTimers() {
  let now = 0;
  let nextId = 1;
  const tasks = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn: () => void, ms: number) {
      const id = nextId++;
      tasks.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(id: unknown) {
      tasks.delete(id as number);
    },
    advance(ms: number) {
      const target = now + ms;
      for (;;) {
        const due = [...tasks.entries()].filter(([, task]) => task.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        tasks.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = target;
    },
  };
}

const msg = (seq: number, text = `m${seq}`): TimelineMessage => ({
  chatId: 'c1',
  seq,
  senderId: 'u1',
  clientMsgId: `id${seq}`,
  kind: 'text',
  text,
  createdAt: seq,
});
const seqs = (timeline: ChatTimeline) => timeline.shown().map((m) => m.seq);

function loadedTimeline(lastSeq: number) {
  const timers = manualTimers();
  const gaps: number[] = [];
  const timeline = new ChatTimeline({ timers, gapWaitMs: 1000, onGap: (seq) => gaps.push(seq) });
  timeline.setBase(
    Array.from({ length: lastSeq }, (_, i) => msg(i + 1)),
    false,
  );
  return { timeline, timers, gaps };
}

t.test('a message after a gap is held until the gap fills, then both show in order', async (t) => {
  const { timeline } = loadedTimeline(3);
  t.ok(timeline.add(msg(5)));
  t.same(seqs(timeline), [1, 2, 3], 'seq 5 is not shown while 4 is missing');
  t.equal(timeline.lastSeq, 3);
  t.ok(timeline.add(msg(4)));
  t.same(seqs(timeline), [1, 2, 3, 4, 5]);
  t.equal(timeline.lastSeq, 5);
  t.equal(timeline.heldCount(), 0);
});

t.test('several held messages are released together when the first missing one arrives', async (t) => {
  const { timeline } = loadedTimeline(1);
  timeline.add(msg(4));
  timeline.add(msg(3));
  t.same(seqs(timeline), [1]);
  timeline.add(msg(2));
  t.same(seqs(timeline), [1, 2, 3, 4]);
});

t.test('a gap still open after the wait asks for a sync from the last contiguous seq', async (t) => {
  const { timeline, timers, gaps } = loadedTimeline(3);
  timeline.add(msg(5));
  timers.advance(999);
  t.same(gaps, [], 'no sync while the wait lasts');
  timers.advance(1);
  t.same(gaps, [3], 'sync from seq 3');
});

t.test('a gap that fills during the wait asks for nothing', async (t) => {
  const { timeline, timers, gaps } = loadedTimeline(3);
  timeline.add(msg(5));
  timers.advance(500);
  timeline.add(msg(4));
  timers.advance(5000);
  t.same(gaps, []);
});

t.test('a duplicate seq is dropped', async (t) => {
  const { timeline } = loadedTimeline(2);
  t.notOk(timeline.add(msg(2, 'again')), 'known seq is refused');
  t.ok(timeline.add(msg(3)));
  t.notOk(timeline.add(msg(3, 'again')));
  t.same(
    timeline.shown().map((m) => m.text),
    ['m1', 'm2', 'm3'],
  );
});

t.test('a seq the server confirms empty is accepted as a hole, and the messages after it show', async (t) => {
  const { timeline, timers, gaps } = loadedTimeline(3);
  timeline.add(msg(5));
  timeline.add(msg(6));
  timers.advance(1000);
  t.same(gaps, [3]);
  // The sync answer carries nothing for seq 4 and says the chat ends at 6.
  timeline.acceptThrough(6);
  t.same(seqs(timeline), [1, 2, 3, 5, 6]);
  t.equal(timeline.lastSeq, 6);
  timers.advance(10_000);
  t.same(gaps, [3], 'the hole is not chased again');
  t.ok(timeline.add(msg(4)), 'a late message for the hole still fills it');
  t.same(seqs(timeline), [1, 2, 3, 4, 5, 6]);
});

t.test('before its first page a chat shows nothing and chases no gap; the page becomes its base', async (t) => {
  const timers = manualTimers();
  const gaps: number[] = [];
  const timeline = new ChatTimeline({ timers, onGap: (seq) => gaps.push(seq) });
  timeline.add(msg(9));
  t.same(seqs(timeline), []);
  timers.advance(5000);
  t.same(gaps, []);
  timeline.setBase([msg(6), msg(7), msg(8)], true);
  t.same(seqs(timeline), [6, 7, 8, 9]);
  t.equal(timeline.oldestSeq(), 6);
  t.ok(timeline.hasMore);
});

t.test('an empty first page makes an empty chat that takes messages from seq 1', async (t) => {
  const timers = manualTimers();
  const timeline = new ChatTimeline({ timers, onGap: () => {} });
  timeline.setBase([], false);
  t.equal(timeline.lastSeq, 0);
  timeline.add(msg(1));
  t.same(seqs(timeline), [1]);
});

t.test('older pages go below what is shown', async (t) => {
  const timers = manualTimers();
  const timeline = new ChatTimeline({ timers, onGap: () => {} });
  timeline.setBase([msg(4), msg(5)], true);
  t.equal(timeline.addOlder([msg(2), msg(3), msg(4)], false), 2);
  t.same(seqs(timeline), [2, 3, 4, 5]);
  t.notOk(timeline.hasMore);
  t.equal(timeline.oldestSeq(), 2);
});

t.test('reset forgets the messages and the pending gap', async (t) => {
  const { timeline, timers, gaps } = loadedTimeline(2);
  timeline.add(msg(4));
  timeline.reset();
  timers.advance(5000);
  t.same(gaps, []);
  t.notOk(timeline.loaded);
  t.same(seqs(timeline), []);
});
