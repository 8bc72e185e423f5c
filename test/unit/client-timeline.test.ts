/**
 * The page's pure timeline rules: grouping, day separators, the "new messages"
 * line, links, the typing line, drafts and the upload check.
 */
import t from 'tap';
import { GROUP_WINDOW_MS, layoutTimeline } from '../../src/web/timeline-layout.js';
import { linkify } from '../../src/web/linkify.js';
import { typingSentence } from '../../src/web/format.js';
import { createDraftStore } from '../../src/web/drafts.js';
import { fileRefusal } from '../../src/web/file-check.js';

const noon = new Date(2026, 2, 10, 12, 0, 0).getTime();
const minute = 60_000;
const row = (key: string, senderId: string, createdAt: number, seq: number) => ({ key, senderId, createdAt, seq });

t.test('messages from one sender within a few minutes share one heading; a new day or sender starts a group', async (t) => {
  const layout = layoutTimeline(
    [
      row('a', 'alice', noon, 1),
      row('b', 'alice', noon + minute, 2),
      row('c', 'alice', noon + 2 * minute, 3),
      row('d', 'bob', noon + 3 * minute, 4),
      row('e', 'bob', noon + 3 * minute + GROUP_WINDOW_MS + 1, 5),
      row('f', 'bob', noon + 24 * 60 * minute, 6),
    ],
    null,
  );
  t.same(
    layout.map((r) => r.groupStart),
    [true, false, false, true, true, true],
  );
  t.same(
    layout.map((r) => r.dayStart),
    [true, false, false, false, false, true],
  );
  t.same(
    layout.map((r) => r.firstUnread),
    [false, false, false, false, false, false],
  );
});

t.test('the "new messages" line goes above the first unread message and starts a group there', async (t) => {
  const layout = layoutTimeline([row('a', 'bob', noon, 1), row('b', 'bob', noon + minute, 2), row('c', 'bob', noon + 2 * minute, 3)], 2);
  t.same(
    layout.map((r) => [r.firstUnread, r.groupStart]),
    [
      [false, true],
      [true, true],
      [false, false],
    ],
  );
});

t.test('only http(s) and mailto addresses become links; trailing punctuation stays text', async (t) => {
  t.same(linkify('see https://example.com/a?b=1. ok'), [
    { kind: 'text', text: 'see ' },
    { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
    { kind: 'text', text: '. ok' },
  ]);
  t.same(linkify('mail mailto:bob@example.com'), [
    { kind: 'text', text: 'mail ' },
    { kind: 'link', text: 'mailto:bob@example.com', href: 'mailto:bob@example.com' },
  ]);
  for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'file:///etc/passwd', 'JaVaScRiPt:alert(1)']) {
    t.same(linkify(text), [{ kind: 'text', text }], text);
  }
  t.same(linkify('http://'), [{ kind: 'text', text: 'http://' }], 'no host, no link');
});

t.test('the typing line names at most two people', async (t) => {
  t.equal(typingSentence([]), '');
  t.equal(typingSentence(['ann']), 'ann is typing…');
  t.equal(typingSentence(['ann', 'bo']), 'ann and bo are typing…');
  t.equal(typingSentence(['ann', 'bo', 'cy']), 'ann, bo and cy are typing…');
  t.equal(typingSentence(['ann', 'bo', 'cy', 'di']), 'ann, bo and 2 others are typing…');
});

t.test('drafts are kept per chat in storage, and in memory when storage refuses', async (t) => {
  const stored = new Map<string, string>();
  const storage = {
    getItem: (key: string) => stored.get(key) ?? null,
    setItem: (key: string, value: string) => void stored.set(key, value),
    removeItem: (key: string) => void stored.delete(key),
  };
  const drafts = createDraftStore(storage);
  drafts.set('c1', 'half a thought');
  t.equal(createDraftStore(storage).get('c1'), 'half a thought', 'a fresh page finds it');
  t.equal(drafts.get('c2'), '');
  drafts.set('c1', '');
  t.equal(stored.size, 0, 'an empty draft is removed');

  const refusing = {
    getItem: () => {
      throw new Error('denied');
    },
    setItem: () => {
      throw new Error('full');
    },
    removeItem: () => {},
  };
  const fallback = createDraftStore(refusing);
  fallback.set('c1', 'kept anyway');
  t.equal(fallback.get('c1'), 'kept anyway');
});

t.test('a file is checked against the limits the server announced, with the same type rule', async (t) => {
  const limits = { messageMaxLength: 4000, fileMaxBytes: 1024 * 1024, fileTypes: ['image/*', 'application/pdf'], groupMaxMembers: 50 };
  t.equal(fileRefusal({ name: 'a.png', type: 'image/png', size: 10 }, limits), null);
  t.equal(fileRefusal({ name: 'a.pdf', type: 'Application/PDF; x=y', size: 10 }, limits), null);
  t.match(
    fileRefusal({ name: 'tool.exe', type: 'application/x-msdownload', size: 10 }, limits),
    /^Files of type application\/x-msdownload are not accepted\.$/,
  );
  t.match(fileRefusal({ name: 'big.png', type: 'image/png', size: 2 * 1024 * 1024 }, limits), /2 MB, more than the 1 MB allowed/);
  t.match(fileRefusal({ name: 'empty.png', type: 'image/png', size: 0 }, limits), /empty/);
  t.equal(fileRefusal({ name: 'x.exe', type: 'application/x-msdownload', size: 10 }, null), null, 'before hello the server decides');
});
