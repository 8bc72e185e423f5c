/**
 * The chat row (preview, latest seq) is written at most once per interval per
 * chat, however many messages arrive: a busy chat costs one row write per
 * interval, not one per message, and the row still ends at the latest message.
 */
import t from 'tap';
import { createChatActivityRecorder } from '../../src/domain/messages/chat-activity.js';
import type { ChatActivity } from '../../src/domain/chats/ports.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { Message } from '../../src/model/index.js';

function message(seq: number, senderId = 'alice'): { message: Message; preview: string } {
  return {
    message: { chatId: 'chat-1', seq, senderId, clientMsgId: `c${seq}`, kind: 'text', text: `hello ${seq}`, createdAt: 1_000 + seq },
    preview: `hello ${seq}`,
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

t.test('messages in quick succession write the chat row once per interval, ending at the latest', async (t) => {
  const writes: ChatActivity[] = [];
  const recorder = createChatActivityRecorder({
    chats: { recordActivity: async (_chatId, activity) => void writes.push(activity) },
    intervalMs: 60_000,
    clock: Date.now,
    logger: silentLogger,
  });

  recorder.record([message(1)]);
  await settle();
  t.same(
    writes.map((w) => w.lastSeq),
    [1],
    'the first message of a quiet chat is written at once',
  );

  recorder.record([message(2, 'bob')]);
  await settle();
  recorder.record([message(3)]);
  await settle();
  t.equal(writes.length, 1, 'messages within the interval wait for it instead of writing each');

  await recorder.flush();
  t.equal(writes.length, 2);
  t.equal(writes[1]!.lastSeq, 3, 'the waiting write carries the latest message');
  t.equal(writes[1]!.preview, 'hello 3');
  t.same(writes[1]!.reads, { bob: 2, alice: 3 }, 'and every sender read position it learned meanwhile');
});
