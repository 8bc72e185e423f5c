/**
 * The page's protocol logic against a scripted socket and a manual clock: the
 * socket is a stand-in for the browser's WebSocket, and the test plays the server.
 */
import t from 'tap';
import { ChatClient, describeSendError, reconnectDelay, defaultSettings, type SocketLike } from '../../src/web/chat-client.js';
import { previewOf } from '../../src/shared/preview.js';
import type { ChatSummary as ChatSummaryLike, Message as TimelineMessage } from '../../src/web/wire.js';

class ManualClock {
  now = 1_000_000;
  private nextId = 1;
  private tasks = new Map<number, { at: number; fn: () => void }>();
  readonly timers = {
    setTimeout: (fn: () => void, ms: number) => {
      const id = this.nextId++;
      this.tasks.set(id, { at: this.now + ms, fn });
      return id;
    },
    clearTimeout: (id: unknown) => {
      this.tasks.delete(id as number);
    },
  };

  advance(ms: number) {
    const target = this.now + ms;
    for (;;) {
      const due = [...this.tasks.entries()].filter(([, task]) => task.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.tasks.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = target;
  }
}

type Frame = Record<string, unknown> & { type: string };

class ScriptedSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  readonly sent: Frame[] = [];
  closedWith: { code?: number; reason?: string } | undefined;

  send(data: string) {
    this.sent.push(JSON.parse(data) as Frame);
  }
  close(code?: number, reason?: string) {
    this.closedWith = { code, reason };
  }

  // what the server does
  open() {
    this.onopen?.();
  }
  receive(frame: Frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code: number) {
    this.onclose?.({ code });
  }
  framesOf(type: string) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

const alice = { userId: 'u-alice', username: 'alice', tier: 'free' as const };
const bob = { userId: 'u-bob', username: 'bob', tier: 'free' as const };
const quota = { tier: 'free', messagesToday: 0, messagesPerDay: 200, resetsAt: 2_000_000, storageBytes: 0, storageLimitBytes: 1000 };

function summary(overrides: Partial<ChatSummaryLike> = {}): ChatSummaryLike {
  return {
    chatId: 'c1',
    kind: 'direct',
    title: 'bob',
    createdBy: alice.userId,
    members: [
      { userId: alice.userId, username: 'alice' },
      { userId: bob.userId, username: 'bob' },
    ],
    lastSeq: 0,
    readSeq: 0,
    unread: 0,
    readPositions: {},
    updatedAt: 1,
    ...overrides,
  };
}

const message = (seq: number, senderId = bob.userId, text = `m${seq}`): TimelineMessage => ({
  chatId: 'c1',
  seq,
  senderId,
  clientMsgId: `cm${seq}`,
  kind: 'text',
  text,
  createdAt: 1000 + seq,
});

function setup(settings: Partial<typeof defaultSettings> = {}) {
  const clock = new ManualClock();
  const sockets: ScriptedSocket[] = [];
  let ids = 0;
  const client = new ChatClient({
    url: 'ws://test/ws',
    createSocket: () => {
      const socket = new ScriptedSocket();
      sockets.push(socket);
      return socket;
    },
    timers: clock.timers,
    now: () => clock.now,
    random: () => 0.5,
    newClientMsgId: () => `cmid${++ids}`,
    settings,
  });
  const socket = () => sockets[sockets.length - 1]!;
  /** Opens the newest socket and answers with hello. */
  const connect = (chats: ChatSummaryLike[] = [summary()]) => {
    socket().open();
    socket().receive({ type: 'hello', nodeId: 'n1', user: alice, quota, chats, serverTime: clock.now });
    return socket();
  };
  /** Opens chat c1 and answers its first history request with `messages`. */
  const openWithHistory = (messages: TimelineMessage[], hasMore = false) => {
    client.openChat('c1');
    const request = socket().framesOf('history').at(-1)!;
    socket().receive({ type: 'history', id: request.id, chatId: 'c1', messages, hasMore });
  };
  const shownSeqs = () =>
    client
      .messagesFor('c1')
      .filter((m) => m.status === 'delivered')
      .map((m) => m.seq);
  return { client, clock, sockets, socket, connect, openWithHistory, shownSeqs };
}

t.test('opening a chat loads its newest page over the socket', async (t) => {
  const { client, socket, connect, shownSeqs } = setup();
  client.start();
  connect([summary({ lastSeq: 2 })]);
  client.openChat('c1');
  const [request] = socket().framesOf('history');
  t.match(request, { type: 'history', chatId: 'c1', limit: 50 });
  t.notOk('before' in request!, 'the newest page has no cursor');
  socket().receive({ type: 'history', id: request!.id, chatId: 'c1', messages: [message(1), message(2)], hasMore: false });
  t.same(shownSeqs(), [1, 2]);
  t.same(
    client.messagesFor('c1').map((m) => m.senderName),
    ['bob', 'bob'],
  );
});

t.test('live messages out of order are held and shown in order once the gap fills', async (t) => {
  const { client, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  socket().receive({ type: 'message', message: message(3) });
  t.same(shownSeqs(), [1], 'seq 3 waits for seq 2');
  socket().receive({ type: 'message', message: message(2) });
  t.same(shownSeqs(), [1, 2, 3]);
  t.same(socket().framesOf('sync'), [], 'a gap that fills in time costs no sync');
});

t.test('a gap that stays open sends sync for that chat from its last contiguous seq', async (t) => {
  const { client, clock, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1), message(2)]);
  socket().receive({ type: 'message', message: message(4) });
  clock.advance(defaultSettings.gapWaitMs);
  t.same(socket().framesOf('sync'), [{ type: 'sync', chats: [{ chatId: 'c1', lastSeq: 2 }] }]);
  socket().receive({ type: 'synced', chatId: 'c1', messages: [message(3), message(4)], lastSeq: 4 });
  t.same(shownSeqs(), [1, 2, 3, 4], 'the synced message fills the gap, the duplicate is dropped');
});

t.test('a gap the server confirms empty is accepted, not waited on', async (t) => {
  const { client, clock, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  const link = socket();
  link.receive({ type: 'message', message: message(3) });
  clock.advance(defaultSettings.gapWaitMs);
  link.receive({ type: 'synced', chatId: 'c1', messages: [message(3)], lastSeq: 3 });
  t.same(shownSeqs(), [1, 3]);
  for (let i = 0; i < 10; i++) {
    clock.advance(defaultSettings.gapWaitMs);
    link.receive({ type: 'pong', serverTime: clock.now });
  }
  t.equal(link.framesOf('sync').length, 1, 'no more syncs for the hole');
});

t.test('a message delivered twice (live and by sync) shows once', async (t) => {
  const { client, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  socket().receive({ type: 'message', message: message(2) });
  socket().receive({ type: 'message', message: message(2) });
  socket().receive({ type: 'synced', chatId: 'c1', messages: [message(2)], lastSeq: 2 });
  t.same(shownSeqs(), [1, 2]);
});

t.test('after a reconnect the client syncs every loaded chat from its last contiguous seq', async (t) => {
  const { client, clock, sockets, socket, connect, openWithHistory } = setup();
  client.start();
  connect([summary(), summary({ chatId: 'c2', title: 'never opened' })]);
  openWithHistory([message(1), message(2)]);
  socket().receive({ type: 'message', message: message(5) });
  socket().drop(1006);
  t.equal(client.connection, 'offline');
  clock.advance(defaultSettings.reconnectMaxMs);
  t.equal(sockets.length, 2, 'a new socket after the backoff');
  connect([summary(), summary({ chatId: 'c2', title: 'never opened' })]);
  t.same(socket().framesOf('sync'), [{ type: 'sync', chats: [{ chatId: 'c1', lastSeq: 2 }] }], 'only the loaded chat, from seq 2');
});

t.test('an unacked message is sent again with the same clientMsgId after a reconnect, and its ack resolves it', async (t) => {
  const { client, clock, sockets, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  client.sendText('c1', 'hello bob');
  const [first] = socket().framesOf('send');
  t.match(first, { type: 'send', chatId: 'c1', text: 'hello bob' });
  t.match(first!.clientMsgId, /^[A-Za-z0-9_-]{1,64}$/);
  t.same(
    client.messagesFor('c1').map((m) => [m.text, m.status]),
    [
      ['m1', 'delivered'],
      ['hello bob', 'pending'],
    ],
    'shown as pending',
  );

  // The server stored it, but the socket died before the ack.
  socket().drop(1006);
  clock.advance(defaultSettings.reconnectMaxMs);
  t.equal(sockets.length, 2);
  const second = connect();
  const resent = second.framesOf('send');
  t.equal(resent.length, 1);
  t.equal(resent[0]!.clientMsgId, first!.clientMsgId, 'same clientMsgId');
  t.ok(second.sent.indexOf(second.framesOf('sync')[0]!) < second.sent.indexOf(resent[0]!), 'sync goes before the resend');

  second.receive({ type: 'ack', chatId: 'c1', clientMsgId: first!.clientMsgId, seq: 2, createdAt: 5000, duplicate: true });
  t.same(shownSeqs(), [1, 2]);
  t.same(
    client.messagesFor('c1').map((m) => [m.seq, m.text, m.status, m.mine]),
    [
      [1, 'm1', 'delivered', false],
      [2, 'hello bob', 'delivered', true],
    ],
  );
  t.same(client.outbox.unacked(), [], 'nothing left to send');
  second.drop(1006);
  clock.advance(defaultSettings.reconnectMaxMs);
  const third = connect();
  t.not(third, second);
  t.same(third.framesOf('send'), [], 'never sent again after the ack');
});

t.test('an ack above a gap shows the message as sent until the gap fills', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  const entry = client.sendText('c1', 'mine');
  socket().receive({ type: 'ack', chatId: 'c1', clientMsgId: entry.clientMsgId, seq: 3, createdAt: 5000, duplicate: false });
  t.same(
    client.messagesFor('c1').map((m) => [m.seq, m.status]),
    [
      [1, 'delivered'],
      [3, 'sent'],
    ],
  );
  socket().receive({ type: 'message', message: message(2) });
  socket().receive({ type: 'message', message: { ...message(3, alice.userId, 'mine'), clientMsgId: entry.clientMsgId } });
  t.same(
    client.messagesFor('c1').map((m) => [m.seq, m.status]),
    [
      [1, 'delivered'],
      [2, 'delivered'],
      [3, 'delivered'],
    ],
    'one copy of the own message, in its place',
  );
});

t.test('a message written while offline goes out after the next hello', async (t) => {
  const { client, clock, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([]);
  socket().drop(1001);
  client.sendText('c1', 'written offline');
  clock.advance(defaultSettings.reconnectMaxMs);
  socket().open();
  t.same(socket().framesOf('send'), [], 'nothing before hello');
  connect();
  t.match(socket().framesOf('send'), [{ text: 'written offline' }]);
});

t.test('an error frame for a send marks it failed with the reason; retry keeps the clientMsgId', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([]);
  const entry = client.sendText('c1', 'one too many');
  socket().receive({
    type: 'error',
    id: entry.clientMsgId,
    code: 'quota_exceeded',
    message: 'You have sent the 200 messages a free account may send per day',
    frame: 'send',
    details: { limit: 200, resetsAt: quota.resetsAt, tier: 'free' },
  });
  const [shown] = client.messagesFor('c1');
  t.equal(shown!.status, 'failed');
  t.match(describeSendError(shown!.error), /Daily limit of 200 messages reached/);
  client.retry(entry.clientMsgId);
  t.equal(socket().framesOf('send').length, 2);
  t.equal(socket().framesOf('send')[1]!.clientMsgId, entry.clientMsgId);
});

t.test(
  'an attached file shows at once as uploading and is sent only when stored; a refused one says why and cannot be retried',
  async (t) => {
    const { client, socket, connect, openWithHistory } = setup();
    client.start();
    connect();
    openWithHistory([]);
    const picture = client.startUpload('c1', { name: 'dot.png', size: 68, contentType: 'image/png' });
    client.uploadProgress(picture, 0.5);
    t.match(client.messagesFor('c1'), [{ kind: 'file', status: 'uploading', progress: 0.5, file: { name: 'dot.png' } }]);
    t.same(socket().framesOf('send'), [], 'nothing is sent while the bytes travel');
    client.uploadFinished(picture, 'files/c1/dot');
    t.match(socket().framesOf('send'), [{ clientMsgId: picture, fileKey: 'files/c1/dot' }]);
    t.match(client.messagesFor('c1'), [{ status: 'pending', file: { name: 'dot.png' } }]);
    t.notOk(client.messagesFor('c1')[0]!.file?.key, 'no preview from pending/, where nobody may download');
    socket().receive({ type: 'ack', chatId: 'c1', clientMsgId: picture, seq: 1, createdAt: 1001 });
    t.match(
      client.messagesFor('c1'),
      [{ seq: 1, status: 'delivered', file: { key: '', name: 'dot.png' } }],
      'acked: in place, still no key',
    );
    const stored = { key: 'files/c1/u/dot', name: 'dot.png', size: 68, contentType: 'image/png' };
    socket().receive({
      type: 'message',
      message: { chatId: 'c1', seq: 1, senderId: alice.userId, clientMsgId: picture, kind: 'file', file: stored, createdAt: 1001 },
    });
    t.same(client.messagesFor('c1')[0]!.file, stored, "the server's copy brings the stored file's key");
    t.equal(client.messagesFor('c1').length, 1, 'still one message');

    const tool = client.startUpload('c1', { name: 'tool.exe', size: 2, contentType: 'application/x-msdownload' });
    client.uploadFailed(tool, { code: 'refused', message: 'Files of type application/x-msdownload are not accepted.' });
    const refused = client.messagesFor('c1').find((item) => item.clientMsgId === tool)!;
    t.match(refused, { status: 'failed', retryable: false, file: { name: 'tool.exe' } });
    t.equal(describeSendError(refused.error), 'Files of type application/x-msdownload are not accepted.');
    client.retry(tool);
    t.equal(socket().framesOf('send').length, 1, 'Retry sends nothing for a file that never reached the store');
    client.discard(tool);
    t.notOk(
      client.messagesFor('c1').some((item) => item.clientMsgId === tool),
      'Discard removes it',
    );

    const cancelled = client.startUpload('c1', { name: 'big.png', size: 1_000_000, contentType: 'image/png' });
    client.discard(cancelled);
    client.uploadFinished(cancelled, 'files/c1/big');
    t.equal(socket().framesOf('send').length, 1, 'an upload cancelled before it ended is never sent');
  },
);

t.test('a terminal close code stops reconnecting', async (t) => {
  for (const code of [4501, 4500, 4999]) {
    const { client, clock, sockets, socket, connect } = setup();
    let signedOut = 0;
    client.on('signed-out', () => signedOut++);
    client.start();
    connect();
    socket().drop(code);
    clock.advance(10 * 60_000);
    t.equal(sockets.length, 1, `no new socket after ${code}`);
    t.equal(client.connection, code === 4501 ? 'signed-out' : 'stopped');
    t.equal(signedOut, code === 4501 ? 1 : 0);
  }
});

t.test('reconnect-class close codes reconnect, with growing jittered delays under the cap', async (t) => {
  const { client, clock, sockets, socket } = setup();
  client.start();
  for (const code of [1000, 1001, 1006, 1012, 4000, 4008, 4499]) {
    const before = sockets.length;
    socket().drop(code);
    clock.advance(defaultSettings.reconnectMaxMs);
    t.equal(sockets.length, before + 1, `reconnects after ${code}`);
  }
});

t.test('the reconnect schedule: full jitter over the first interval, then growing windows under the cap', async (t) => {
  const { reconnectBaseMs: base, reconnectMaxMs: cap } = defaultSettings;
  t.same(
    [0, 0.5, 0.999].map((r) => reconnectDelay(0, defaultSettings, () => r)),
    [0, base / 2, Math.floor(0.999 * base)],
    'the first retry may come at once or up to a whole interval later',
  );
  const windows = [1, 2, 3, 4, 5, 10].map((attempt) => [
    reconnectDelay(attempt, defaultSettings, () => 0),
    reconnectDelay(attempt, defaultSettings, () => 1),
  ]);
  t.same(
    windows,
    [
      [base, 2 * base],
      [2 * base, 4 * base],
      [4 * base, 8 * base],
      [cap / 2, cap],
      [cap / 2, cap],
      [cap / 2, cap],
    ],
    'later retries take the upper half of a doubling ceiling, so a failing page backs off',
  );
});

t.test('a fleet cut at once comes back spread over the first interval, not in one burst', async (t) => {
  // A seeded generator (mulberry32), so the figure is the same on every run.
  let seed = 42;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const pages = 10_000;
  const sliceMs = 100;
  const perSlice = new Map<number, number>();
  for (let i = 0; i < pages; i++) {
    const slice = Math.floor(reconnectDelay(0, defaultSettings, random) / sliceMs);
    perSlice.set(slice, (perSlice.get(slice) ?? 0) + 1);
  }
  const slices = defaultSettings.reconnectBaseMs / sliceMs;
  const busiest = Math.max(...perSlice.values());
  t.equal(perSlice.size, slices, `every ${sliceMs} ms slice of the first interval gets reconnects`);
  t.ok(busiest < (pages / slices) * 1.1, 'no slice takes much more than its even share');
  t.comment(`${pages} pages: busiest ${sliceMs} ms slice ${busiest} reconnects (even share ${pages / slices})`);
});

t.test('a ping left unanswered drops the link and reconnects', async (t) => {
  const { client, clock, sockets, socket, connect } = setup();
  client.start();
  const first = connect();
  clock.advance(defaultSettings.pingIntervalMs);
  t.equal(first.framesOf('ping').length, 1);
  first.receive({ type: 'pong', serverTime: clock.now });
  clock.advance(defaultSettings.pingIntervalMs);
  t.equal(first.framesOf('ping').length, 2);
  t.equal(sockets.length, 1, 'a link that answers stays');
  clock.advance(defaultSettings.pongTimeoutMs);
  t.ok(first.closedWith, 'the silent socket is closed');
  t.equal(client.connection, 'offline');
  clock.advance(defaultSettings.reconnectMaxMs);
  t.equal(sockets.length, 2);
  t.equal(socket(), sockets[1]);
});

t.test('resync: too_far_behind reloads the chat from history; bus_reconnected syncs it', async (t) => {
  const { client, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(1), message(2)]);
  socket().receive({ type: 'resync', chatId: 'c1', reason: 'bus_reconnected' });
  t.same(socket().framesOf('sync').at(-1), { type: 'sync', chats: [{ chatId: 'c1', lastSeq: 2 }] });
  socket().receive({ type: 'resync', reason: 'slow_consumer' });
  t.equal(socket().framesOf('sync').length, 2);

  socket().receive({ type: 'resync', chatId: 'c1', reason: 'too_far_behind', lastSeq: 900 });
  t.same(shownSeqs(), []);
  const reload = socket().framesOf('history').at(-1)!;
  t.notOk('before' in reload, 'the newest page again');
  socket().receive({ type: 'history', id: reload.id, chatId: 'c1', messages: [message(899), message(900)], hasMore: true });
  t.same(shownSeqs(), [899, 900]);
});

t.test('older pages load before the lowest seq shown', async (t) => {
  const { client, socket, connect, openWithHistory, shownSeqs } = setup();
  client.start();
  connect();
  openWithHistory([message(51), message(52)], true);
  t.ok(client.loadOlder('c1'));
  t.notOk(client.loadOlder('c1'), 'one page at a time');
  const request = socket().framesOf('history').at(-1)!;
  t.equal(request.before, 51);
  socket().receive({ type: 'history', id: request.id, chatId: 'c1', messages: [message(49), message(50)], hasMore: false });
  t.same(shownSeqs(), [49, 50, 51, 52]);
  t.notOk(client.loadOlder('c1'), 'nothing older');
});

t.test('typing is sent at most once per interval and shown for a while after the last frame', async (t) => {
  const { client, clock, socket, connect } = setup();
  client.start();
  connect();
  const interval = defaultSettings.typingSendIntervalMs;
  t.ok(interval >= 2000, 'never more often than every 2 s');
  client.notifyTyping('c1');
  client.notifyTyping('c1');
  clock.advance(1000);
  client.notifyTyping('c1');
  t.equal(socket().framesOf('typing').length, 1, 'one frame for a burst of keystrokes');
  clock.advance(interval - 1001);
  t.equal(socket().framesOf('typing').length, 1);
  clock.advance(1);
  t.equal(socket().framesOf('typing').length, 2, 'keystrokes inside the interval are reported when it ends');
  clock.advance(10_000);
  t.equal(socket().framesOf('typing').length, 2, 'nothing more without keystrokes');
  client.notifyTyping('c1');
  t.equal(socket().framesOf('typing').length, 3, 'a keystroke after a pause is reported at once');

  socket().receive({ type: 'typing', chatId: 'c1', userId: bob.userId, username: 'bob' });
  t.same(client.typingNames('c1'), ['bob']);
  clock.advance(4000);
  socket().receive({ type: 'typing', chatId: 'c1', userId: bob.userId, username: 'bob' });
  clock.advance(4000);
  t.same(client.typingNames('c1'), ['bob'], 'kept alive by the second frame');
  clock.advance(1000);
  t.same(client.typingNames('c1'), []);
  socket().receive({ type: 'typing', chatId: 'c1', userId: alice.userId, username: 'alice' });
  t.same(client.typingNames('c1'), [], 'my own typing (another tab) is not shown');
});

t.test('unread counts grow for chats not being read and reset when the chat is read', async (t) => {
  const { client, clock, socket, connect, openWithHistory } = setup();
  client.start();
  connect([summary({ lastSeq: 1, unread: 1, readSeq: 0 })]);
  socket().receive({ type: 'message', message: message(2) });
  t.equal(client.getChat('c1')!.summary.unread, 2);
  socket().receive({ type: 'message', message: message(2) });
  t.equal(client.getChat('c1')!.summary.unread, 2, 'a duplicate counts once');
  t.equal(client.getChat('c1')!.summary.lastMessage?.preview, 'm2');

  openWithHistory([message(1), message(2)]);
  t.same(socket().framesOf('read'), [{ type: 'read', chatId: 'c1', seq: 2 }]);
  t.equal(client.getChat('c1')!.summary.unread, 0);
  socket().receive({ type: 'message', message: message(3) });
  socket().receive({ type: 'message', message: message(4) });
  t.equal(socket().framesOf('read').length, 1, 'reads are throttled');
  clock.advance(defaultSettings.readThrottleMs);
  t.same(socket().framesOf('read').at(-1), { type: 'read', chatId: 'c1', seq: 4 }, 'the latest seq goes after the pause');
  t.equal(client.getChat('c1')!.summary.unread, 0);

  client.setVisible(false);
  socket().receive({ type: 'message', message: message(5) });
  t.equal(client.getChat('c1')!.summary.unread, 1, 'a hidden page does not read');
  client.setVisible(true);
  t.equal(client.getChat('c1')!.summary.unread, 0);
});

t.test('a receipt from another member shows under the own message when it is the latest', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([message(1), message(2, alice.userId)]);
  t.same(client.seenBy('c1'), []);
  socket().receive({ type: 'receipt', chatId: 'c1', userId: bob.userId, seq: 1 });
  t.same(client.seenBy('c1'), []);
  socket().receive({ type: 'receipt', chatId: 'c1', userId: bob.userId, seq: 2 });
  t.same(client.seenBy('c1'), ['bob']);
  socket().receive({ type: 'message', message: message(3) });
  t.same(client.seenBy('c1'), [], 'once bob answers, the answer is the news, not "Seen"');
});

t.test('presence frames mark members online and offline; a new hello forgets old presence', async (t) => {
  const { client, clock, socket, connect } = setup();
  client.start();
  connect();
  socket().receive({ type: 'presence', userId: bob.userId, online: true });
  t.ok(client.isOnline(bob.userId));
  socket().receive({ type: 'presence', userId: bob.userId, online: false });
  t.notOk(client.isOnline(bob.userId));
  socket().receive({ type: 'presence', userId: bob.userId, online: true });
  socket().drop(1006);
  clock.advance(defaultSettings.reconnectMaxMs);
  connect();
  t.notOk(client.isOnline(bob.userId));
});

t.test('chat frames add, update and remove chats; hello drops chats left meanwhile', async (t) => {
  const { client, socket, connect } = setup();
  const removed: string[] = [];
  client.on('chat-removed', (chatId: string) => removed.push(chatId));
  client.start();
  connect([summary()]);
  socket().receive({ type: 'chat', change: 'created', chat: summary({ chatId: 'g1', kind: 'group', title: 'team', updatedAt: 50 }) });
  t.same(
    client.chatList().map((chat) => chat.chatId),
    ['g1', 'c1'],
    'the newest activity first',
  );
  socket().receive({ type: 'chat', change: 'updated', chat: summary({ chatId: 'g1', kind: 'group', title: 'renamed', updatedAt: 50 }) });
  t.equal(client.getChat('g1')!.summary.title, 'renamed');
  socket().receive({ type: 'chat', change: 'removed', chat: { chatId: 'g1' } });
  t.same(removed, ['g1']);
  socket().drop(1006);
});

t.test('refusals: a chat the server no longer knows us in is dropped; typing refusals stay quiet', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  const notices: string[] = [];
  client.on('notice', ({ message }: { message: string }) => notices.push(message));
  client.start();
  connect([summary(), summary({ chatId: 'c2', title: 'old group', kind: 'group' })]);
  openWithHistory([message(1)]);
  socket().receive({ type: 'error', code: 'rate_limited', message: 'slow down', frame: 'typing' });
  t.same(notices, []);
  socket().receive({ type: 'error', code: 'not_found', message: 'No such chat', frame: 'sync', details: { chatId: 'c2' } });
  t.notOk(client.getChat('c2'), 'the chat is gone from the list');
  t.same(notices, []);
  socket().receive({ type: 'error', code: 'unavailable', message: 'Try again in a moment' });
  t.same(notices, ['Try again in a moment'], 'anything else is shown');
});

t.test('the "new messages" line marks the first message from others the reader had not read when the chat opened', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect([summary({ lastSeq: 4, readSeq: 1, unread: 3 })]);
  openWithHistory([message(1), message(2, alice.userId), message(3), message(4)]);
  t.equal(client.firstUnreadSeq('c1'), 3, 'own message 2 is not news');
  socket().receive({ type: 'message', message: message(5) });
  t.equal(client.firstUnreadSeq('c1'), 3, 'the line stays while the chat is open, though it is now read');
  client.openChat(null);
  client.openChat('c1');
  t.equal(client.firstUnreadSeq('c1'), null, 'opened again with everything read: no line');
});

t.test('each own message knows who has read it', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  const carol = { userId: 'u-carol', username: 'carol' };
  client.start();
  connect([summary({ kind: 'group', members: [alice, bob, carol], lastSeq: 2 })]);
  openWithHistory([message(1, alice.userId), message(2, alice.userId)]);
  t.same(client.readBy('c1', 1), []);
  socket().receive({ type: 'receipt', chatId: 'c1', userId: bob.userId, seq: 1 });
  socket().receive({ type: 'receipt', chatId: 'c1', userId: carol.userId, seq: 2 });
  t.same(client.readBy('c1', 1), ['bob', 'carol']);
  t.same(client.readBy('c1', 2), ['carol']);
});

t.test('the chat list preview of a file follows the shared rule', async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  socket().receive({
    type: 'message',
    message: { ...message(2), kind: 'file', text: undefined, file: { key: 'k', name: 'chart.png', size: 3, contentType: 'image/png' } },
  });
  t.equal(client.getChat('c1')?.summary.lastMessage?.preview, previewOf({ fileName: 'chart.png' }));
});

t.test("the sender's usage follows its acks (no separate quota frame per send)", async (t) => {
  const { client, socket, connect, openWithHistory } = setup();
  client.start();
  connect();
  openWithHistory([message(1)]);
  const seen: number[] = [];
  client.on('quota', (q) => seen.push(q!.messagesToday));
  client.sendText('c1', 'counted');
  const [sent] = socket().framesOf('send');
  socket().receive({ type: 'ack', chatId: 'c1', clientMsgId: sent!.clientMsgId, seq: 2, createdAt: 5000, messagesToday: 1 });
  t.equal(client.quota?.messagesToday, 1, 'the usage shown moves to what the ack says');
  t.same(seen, [1], 'and the page is told once');
});
