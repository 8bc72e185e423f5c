import t from 'tap';
import { directChatId, summaryFor, byLatestActivity, type Chat } from '../../src/domain/chats/chat-rules.js';
import { previewOf } from '../../src/shared/preview.js';

t.test('a direct chat id depends only on the pair', async (t) => {
  t.equal(directChatId('alice-id', 'bob-id'), directChatId('bob-id', 'alice-id'));
  t.not(directChatId('alice-id', 'bob-id'), directChatId('alice-id', 'carol-id'));
  t.match(directChatId('a', 'b'), /^d-[0-9a-f]{40}$/);
});

t.test('previews are short, single-line, and name files', async (t) => {
  t.equal(previewOf({ text: 'hello\n\n  world' }), 'hello world');
  t.equal(previewOf({ text: 'x'.repeat(500) }).length, 120);
  t.equal(previewOf({ fileName: 'plan.pdf' }), '📎 plan.pdf');
});

const chat: Chat = {
  chatId: 'd-1',
  kind: 'direct',
  title: '',
  createdBy: 'a',
  createdAt: 1,
  members: { a: 'alice', b: 'bob' },
  lastSeq: 7,
  readSeq: { a: 7, b: 3 },
  updatedAt: 10,
};

t.test('each member sees the chat from their side', async (t) => {
  const forBob = summaryFor(chat, 'b');
  t.equal(forBob.title, 'alice', 'a direct chat is titled after the other person');
  t.equal(forBob.unread, 4);
  t.equal(forBob.readSeq, 3);
  t.equal(summaryFor(chat, 'a').unread, 0);
  t.same(forBob.readPositions, { a: 7, b: 3 }, 'read positions of everyone, for receipts');
});

t.test('chats sort by latest activity', async (t) => {
  const older = summaryFor({ ...chat, chatId: 'd-2', updatedAt: 5 }, 'a');
  const newer = summaryFor(chat, 'a');
  t.same(
    [older, newer].sort(byLatestActivity).map((c) => c.chatId),
    ['d-1', 'd-2'],
  );
});
