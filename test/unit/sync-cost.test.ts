/**
 * What one `sync` frame may cost: chats the socket already knows are read as
 * before; naming chats that are not the user's costs one read of the user's chat
 * list in all, never a read (or a sequencer call) per chat; a chat named twice is
 * answered once.
 */
import t from 'tap';
import { createMessagesService, type MessagesServiceDeps } from '../../src/domain/messages/messages-service.js';
import type { Chat } from '../../src/domain/chats/chat-rules.js';

function chat(chatId: string, members: string[], lastSeq = 0): Chat {
  return {
    chatId,
    kind: 'group',
    title: chatId,
    createdBy: members[0]!,
    createdAt: 0,
    members: Object.fromEntries(members.map((m) => [m, m])),
    lastSeq,
    readSeq: {},
    updatedAt: 0,
  };
}

function service(rows: Chat[], chatIdsOfUser: string[]) {
  const reads = { chatRows: [] as string[], chatLists: 0, sequencer: [] as string[], logAfter: [] as string[] };
  const byId = new Map(rows.map((c) => [c.chatId, c]));
  const deps = {
    chats: {
      get: async (id: string) => byId.get(id),
      getMany: async (ids: readonly string[]) => {
        reads.chatRows.push(...ids);
        return ids.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
      },
      chatIdsOf: async () => {
        reads.chatLists += 1;
        return chatIdsOfUser;
      },
    },
    log: {
      after: async (chatId: string) => {
        reads.logAfter.push(chatId);
        return [];
      },
    },
    sequencer: {
      current: async (ids: readonly string[]) => {
        reads.sequencer.push(...ids);
        return new Map(ids.map((id) => [id, byId.get(id)?.lastSeq]));
      },
    },
    writer: {},
    files: {},
    events: { publish: async () => {} },
    messageMaxLength: 100,
    syncMaxMessages: 10,
    clock: () => 0,
    onBackgroundError: () => {},
  } as unknown as MessagesServiceDeps;
  return { messages: createMessagesService(deps), reads };
}

t.test('a thousand chats that are not yours cost one read of your chat list', async (t) => {
  const { messages, reads } = service([chat('mine', ['alice'], 3), chat('theirs', ['bob'], 9)], ['mine']);
  const strangers = Array.from({ length: 1000 }, (_, i) => ({ chatId: `nope-${i}`, lastSeq: 0 }));
  const outcomes = await messages.sync('alice', [...strangers, { chatId: 'theirs', lastSeq: 0 }], new Set());
  t.equal(reads.chatLists, 1, "one read of the user's chat list");
  t.same(reads.chatRows, [], 'no chat row is read');
  t.same(reads.sequencer, [], 'the sequencer is not asked');
  t.equal(outcomes.length, 1001, 'every chat still gets an answer');
  t.ok(
    outcomes.every((o) => o.status === 'not_found'),
    'each is not_found',
  );
});

t.test("chats the socket knows are synced without reading the user's chat list", async (t) => {
  const { messages, reads } = service([chat('mine', ['alice'], 3)], ['mine']);
  const outcomes = await messages.sync('alice', [{ chatId: 'mine', lastSeq: 1 }], new Set(['mine']));
  t.equal(reads.chatLists, 0);
  t.same(reads.chatRows, ['mine']);
  t.same(outcomes, [{ chatId: 'mine', status: 'synced', messages: [], lastSeq: 1 }]);
});

t.test('a chat the socket has not heard of yet, but the user is in, is synced', async (t) => {
  const { messages, reads } = service([chat('new', ['alice'], 0)], ['new']);
  const outcomes = await messages.sync('alice', [{ chatId: 'new', lastSeq: 0 }], new Set());
  t.equal(reads.chatLists, 1);
  t.same(outcomes, [{ chatId: 'new', status: 'synced', messages: [], lastSeq: 0 }]);
});

t.test('a chat named many times in one frame is answered once', async (t) => {
  const { messages, reads } = service([chat('mine', ['alice'], 2)], ['mine']);
  const outcomes = await messages.sync(
    'alice',
    Array.from({ length: 50 }, () => ({ chatId: 'mine', lastSeq: 2 })),
    new Set(['mine']),
  );
  t.equal(outcomes.length, 1);
  t.same(reads.chatRows, ['mine']);
});
