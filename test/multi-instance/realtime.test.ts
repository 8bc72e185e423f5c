/**
 * Two instances on real ports sharing Redis and DynamoDB Local; people signed in
 * through the real sign-in flow; real WebSocket clients. What crosses instances runs
 * twice: on one Redis, and on a local three-master Redis Cluster (REDIS_CLUSTER=true:
 * sharded pub/sub, presence and seqs through cluster clients).
 */
import t, { type Test as Tap } from 'tap';
import { startTestStack, startInstance, uniqueId, type TestInstance } from '../helpers/test-stack.js';
import { api, openDirect, person, type Person } from '../helpers/people.js';
import { connect, connectReady, type ChatClient } from '../helpers/ws-client.js';
import { redisServerUnavailable, startRedisCluster } from '../helpers/redis-server.js';

const stack = await startTestStack(t);
const a = await startInstance(t, stack);
const b = await startInstance(t, stack);

async function online(instance: TestInstance, who: Person): Promise<ChatClient> {
  const { client } = await connectReady(instance.wsUrl, who.cookie);
  t.teardown(() => client.close());
  return client;
}

let sendCounter = 0;
function sendText(client: ChatClient, chatId: string, text: string, clientMsgId = `m${++sendCounter}x${Date.now()}`) {
  client.send({ type: 'send', chatId, clientMsgId, text });
  return client.next('ack', (f) => f.clientMsgId === clientMsgId);
}

/**
 * What crosses instances, run once per kind of Redis: messages, typing, receipts,
 * presence, idempotent retries, sync after a disconnect, and order under two senders.
 */
function acrossInstances(redis: string, a: TestInstance, b: TestInstance) {
  t.test(`a message sent through one instance reaches a member on the other, in real time (${redis})`, async (t) => {
    const alice = await person(a, 'alice');
    const bob = await person(b, 'bob');
    const bobSocket = await online(b, bob);
    const aliceSocket = await online(a, alice);

    const chatId = await openDirect(a, alice, bob);
    const chatEvent = await bobSocket.next('chat', (f) => f.chat.chatId === chatId);
    t.equal(chatEvent.change, 'created', 'bob hears of the new chat on the other instance');

    const ack = await sendText(aliceSocket, chatId, 'hello bob');
    t.equal(ack.seq, 1, 'the first message gets seq 1');
    t.equal(ack.duplicate, false);
    const received = await bobSocket.next('message', (f) => f.message.chatId === chatId);
    t.same(
      { seq: received.message.seq, text: received.message.text, senderId: received.message.senderId },
      { seq: 1, text: 'hello bob', senderId: alice.userId },
    );
    const echo = await aliceSocket.next('message', (f) => f.message.chatId === chatId);
    t.equal(echo.message.seq, 1, "the sender's own socket gets the message once too");
    await aliceSocket.none('message', (f) => (f as { message: { chatId: string } }).message.chatId === chatId, 300);

    bobSocket.send({ type: 'typing', chatId });
    const typing = await aliceSocket.next('typing', (f) => f.chatId === chatId);
    t.equal(typing.userId, bob.userId, 'typing crosses instances');

    bobSocket.send({ type: 'read', chatId, seq: 1 });
    const receipt = await aliceSocket.next('receipt', (f) => f.chatId === chatId);
    t.same({ userId: receipt.userId, seq: receipt.seq }, { userId: bob.userId, seq: 1 }, 'the read receipt reaches the sender');

    const list = await api<{ chats: { chatId: string; unread: number; lastMessage?: { preview: string } }[] }>(b, bob, 'GET', '/chats');
    const summary = list.body.chats.find((c) => c.chatId === chatId);
    t.equal(summary?.unread, 0, 'after reading, nothing is unread for bob');
    t.equal(summary?.lastMessage?.preview, 'hello bob');
  });

  t.test(`presence follows the last tab, across instances (${redis})`, async (t) => {
    const alice = await person(a, 'alice');
    const bob = await person(b, 'bob');
    await openDirect(a, alice, bob);
    const aliceSocket = await online(a, alice);
    const bobTab1 = await connectReady(b.wsUrl, bob.cookie);
    await aliceSocket.next('presence', (f) => f.userId === bob.userId && f.online);
    const bobTab2 = await connectReady(a.wsUrl, bob.cookie);
    await bobTab1.client.close();
    await aliceSocket.none('presence', (f) => (f as { userId: string }).userId === bob.userId, 500);
    t.pass('closing one of two tabs does not take bob offline');
    await bobTab2.client.close();
    const offline = await aliceSocket.next('presence', (f) => f.userId === bob.userId && !f.online);
    t.equal(offline.online, false, 'closing the last tab does');
  });

  t.test(`a retried send with the same clientMsgId returns the original seq and stores one message (${redis})`, async (t) => {
    const alice = await person(a, 'alice');
    const bob = await person(b, 'bob');
    const chatId = await openDirect(a, alice, bob);
    const first = await online(a, alice);
    const ack1 = await sendText(first, chatId, 'only once', 'retry-1');
    await first.close();
    // The retry goes to the other instance, as after a reconnect behind a load balancer.
    const second = await online(b, alice);
    const ack2 = await sendText(second, chatId, 'only once', 'retry-1');
    t.equal(ack2.seq, ack1.seq, 'same seq');
    t.equal(ack2.duplicate, true, 'marked as a duplicate');
    const history = await api<{ messages: unknown[] }>(a, alice, 'GET', `/chats/${chatId}/messages`);
    t.equal(history.body.messages.length, 1, 'stored once');
  });

  t.test(`sync after a disconnect returns exactly the missed messages, in order (${redis})`, async (t) => {
    const alice = await person(a, 'alice');
    const bob = await person(b, 'bob');
    const chatId = await openDirect(a, alice, bob);
    const aliceSocket = await online(a, alice);
    await sendText(aliceSocket, chatId, 'before');
    const bobSocket = await online(b, bob);
    await bobSocket.close();
    for (const text of ['one', 'two', 'three']) await sendText(aliceSocket, chatId, text);

    const back = await online(b, bob);
    back.send({ type: 'sync', id: 's1', chats: [{ chatId, lastSeq: 1 }] });
    const synced = await back.next('synced', (f) => f.chatId === chatId);
    t.same(
      synced.messages.map((m) => [m.seq, m.text]),
      [
        [2, 'one'],
        [3, 'two'],
        [4, 'three'],
      ],
    );
    t.equal(synced.lastSeq, 4);
    t.equal(synced.id, 's1', 'the reply echoes the frame id');
  });

  t.test(`two senders on two instances: every member sees the stored order, with no gap (${redis})`, async (t) => {
    const alice = await person(a, 'alice');
    const bob = await person(b, 'bob');
    const carol = await person(a, 'carol');
    const group = await api<{ chat: { chatId: string } }>(a, alice, 'POST', '/chats/group', {
      title: 'race',
      members: [bob.username, carol.username],
    });
    t.equal(group.status, 201);
    const chatId = group.body.chat.chatId;
    const aliceSocket = await online(a, alice);
    const bobSocket = await online(b, bob);
    const carolSocket = await online(b, carol);
    const perSender = 15;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < perSender; i++) {
      sends.push(sendText(aliceSocket, chatId, `a${i}`), sendText(bobSocket, chatId, `b${i}`));
    }
    await Promise.all(sends);
    const total = perSender * 2;
    const history = await api<{ messages: { seq: number; text: string }[] }>(a, alice, 'GET', `/chats/${chatId}/messages?limit=100`);
    t.same(
      history.body.messages.map((m) => m.seq),
      Array.from({ length: total }, (_, i) => i + 1),
      'stored seqs are 1..N',
    );
    const stored = history.body.messages.map((m) => m.text);
    for (const [name, socket] of [
      ['alice', aliceSocket],
      ['bob', bobSocket],
      ['carol', carolSocket],
    ] as const) {
      const got: { seq: number; text: string }[] = [];
      for (let i = 0; i < total; i++) {
        const frame = await socket.next('message', (f) => f.message.chatId === chatId);
        got.push({ seq: frame.message.seq, text: frame.message.text ?? '' });
      }
      const ordered = got.sort((x, y) => x.seq - y.seq);
      t.same(
        ordered.map((m) => m.seq),
        Array.from({ length: total }, (_, i) => i + 1),
        `${name} has every seq, no gap`,
      );
      t.same(
        ordered.map((m) => m.text),
        stored,
        `${name} sees the order DynamoDB holds`,
      );
    }
    for (let i = 1; i < perSender; i++) {
      const seqOf = (text: string) => history.body.messages.find((m) => m.text === text)!.seq;
      if (seqOf(`a${i}`) < seqOf(`a${i - 1}`)) t.fail(`alice's a${i} was stored before a${i - 1}`);
    }
    t.pass("each sender's messages keep the order they were sent in");
  });
}

acrossInstances('one Redis', a, b);

t.test('the socket refuses upgrades without a session or from a foreign origin', async (t) => {
  const alice = await person(a, 'alice');
  const noSession = await connect(a.wsUrl).catch((err: { statusCode?: number }) => err);
  t.equal((noSession as { statusCode?: number }).statusCode, 401, 'no cookie: 401 before any upgrade');
  const forged = await connect(a.wsUrl, { cookie: 'huddle_session=forged' }).catch((err: { statusCode?: number }) => err);
  t.equal((forged as { statusCode?: number }).statusCode, 401, 'forged session: 401');
  const foreign = await connect(a.wsUrl, { cookie: alice.cookie, origin: 'https://evil.example' }).catch(
    (err: { statusCode?: number }) => err,
  );
  t.equal((foreign as { statusCode?: number }).statusCode, 403, 'foreign origin: 403');
});

t.test('hello tells the client the limits this deployment enforces', async (t) => {
  const alice = await person(a, 'alice');
  const { client, hello } = await connectReady(a.wsUrl, alice.cookie);
  t.teardown(() => client.close());
  t.same(hello.limits, {
    messageMaxLength: a.config.chats.messageMaxLength,
    fileMaxBytes: a.config.files.maxBytes,
    fileTypes: a.config.files.allowedTypes,
    groupMaxMembers: a.config.chats.groupMaxMembers,
  });
});

t.test('a burst from one tab is stored in the order sent, sharing commits instead of waiting one by one', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  const chatId = await openDirect(a, alice, bob);
  const tab = await online(a, alice);
  const commitsBefore = a.services.writer.stats().commits;
  const ids = Array.from({ length: 20 }, (_, i) => `burst-${i}-${Date.now()}`);
  // All frames leave before any ack arrives, as when a tab flushes its outbox after a reconnect.
  const acks = ids.map((clientMsgId) => tab.next('ack', (f) => f.clientMsgId === clientMsgId));
  ids.forEach((clientMsgId, i) => tab.send({ type: 'send', chatId, clientMsgId, text: `burst ${i}` }));
  const seqs = (await Promise.all(acks)).map((ack) => ack.seq);
  t.same(
    seqs,
    [...seqs].sort((x, y) => x - y),
    'seqs follow the order sent',
  );
  const history = await api<{ messages: { text: string }[] }>(a, alice, 'GET', `/chats/${chatId}/messages`);
  t.same(
    history.body.messages.map((m) => m.text),
    ids.map((_, i) => `burst ${i}`),
    'stored once each, in the order sent',
  );
  const commits = a.services.writer.stats().commits - commitsBefore;
  t.ok(commits < ids.length / 2, `20 sends took ${commits} commits`);
});

t.test('sync far behind answers resync instead of a flood', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  const small = await startInstance(t, stack, { SYNC_MAX_MESSAGES: '2' });
  const chatId = await openDirect(a, alice, bob);
  const aliceSocket = await online(a, alice);
  for (const text of ['1', '2', '3', '4']) await sendText(aliceSocket, chatId, text);
  const bobSocket = await online(small, bob);
  bobSocket.send({ type: 'sync', chats: [{ chatId, lastSeq: 0 }] });
  const resync = await bobSocket.next('resync', (f) => f.chatId === chatId);
  t.same({ reason: resync.reason, lastSeq: resync.lastSeq }, { reason: 'too_far_behind', lastSeq: 4 });
});

t.test('a non-member can do nothing with a chat and cannot tell it exists', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  const mallory = await person(a, 'mallory');
  const group = await api<{ chat: { chatId: string } }>(a, alice, 'POST', '/chats/group', { title: 'private', members: [bob.username] });
  const chatId = group.body.chat.chatId;
  const missingId = 'g-doesnotexist000000000000000000000';
  const socket = await online(a, mallory);

  const refusals: string[] = [];
  for (const id of [chatId, missingId]) {
    socket.send({ type: 'send', chatId: id, clientMsgId: uniqueId('x'), text: 'let me in' });
    socket.send({ type: 'history', chatId: id });
    socket.send({ type: 'read', chatId: id, seq: 1 });
    socket.send({ type: 'typing', chatId: id });
    socket.send({ type: 'sync', chats: [{ chatId: id, lastSeq: 0 }] });
    for (const frame of ['send', 'history', 'read', 'typing', 'sync']) {
      const error = await socket.next('error', (f) => f.frame === frame);
      t.equal(error.code, 'not_found', `${frame} is refused`);
      refusals.push(`${frame}:${error.code}:${error.message}`);
    }
  }
  t.same(refusals.slice(0, 5), refusals.slice(5), 'an existing chat and a missing one are refused alike');

  const http = [
    await api(a, mallory, 'GET', `/chats/${chatId}/messages`),
    await api(a, mallory, 'POST', `/chats/${chatId}/members`, { username: mallory.username }),
    await api(a, mallory, 'POST', `/chats/${chatId}/leave`),
    await api(a, mallory, 'DELETE', `/chats/${chatId}/members/${bob.userId}`),
  ];
  t.same(
    http.map((r) => r.status),
    [404, 404, 404, 404],
    'HTTP refuses the same way',
  );
  const missing = await api(a, mallory, 'GET', `/chats/${missingId}/messages`);
  t.same(missing.body, http[0]!.body, 'with the same body as for a chat that does not exist');
  const bobsOnly = await api(a, bob, 'POST', `/chats/${chatId}/members`, { username: mallory.username });
  t.equal(bobsOnly.status, 403, 'a member who is not the creator cannot add people');
  const list = await api<{ chats: unknown[] }>(a, mallory, 'GET', '/chats');
  t.same(list.body.chats, [], 'the chat is not in her list');
  const history = await api<{ messages: unknown[] }>(a, alice, 'GET', `/chats/${chatId}/messages`);
  t.same(history.body.messages, [], 'nothing she tried was stored');
});

t.test('group membership changes reach members live, and removal stops delivery', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  const dave = await person(b, 'dave');
  const group = await api<{ chat: { chatId: string } }>(a, alice, 'POST', '/chats/group', { title: 'team', members: [bob.username] });
  const chatId = group.body.chat.chatId;
  const aliceSocket = await online(a, alice);
  const daveSocket = await online(b, dave);
  const added = await api(a, alice, 'POST', `/chats/${chatId}/members`, { username: dave.username });
  t.equal(added.status, 200);
  const created = await daveSocket.next('chat', (f) => f.chat.chatId === chatId);
  t.equal(created.change, 'created', 'the new member hears of the chat on his instance');
  await daveSocket.next('presence', (f) => f.userId === alice.userId && f.online);
  await aliceSocket.next('presence', (f) => f.userId === dave.userId && f.online);
  t.pass('the new member and the others see each other online');
  await sendText(aliceSocket, chatId, 'welcome dave');
  const welcome = await daveSocket.next('message', (f) => f.message.chatId === chatId);
  t.equal(welcome.message.text, 'welcome dave', 'and gets its messages from then on');
  const removed = await api(a, alice, 'DELETE', `/chats/${chatId}/members/${dave.userId}`);
  t.equal(removed.status, 200);
  await daveSocket.next('chat', (f) => f.chat.chatId === chatId && f.change === 'removed');
  await sendText(aliceSocket, chatId, 'dave is gone');
  await daveSocket.none('message', (f) => (f as { message: { chatId: string } }).message.chatId === chatId, 500);
  t.pass('a removed member gets nothing more');
});

t.test('malformed and unknown frames get an error frame and the socket stays open', async (t) => {
  const alice = await person(a, 'alice');
  const socket = await online(a, alice);
  socket.sendRaw('not json');
  const notJson = await socket.next('error');
  t.equal(notJson.code, 'bad_frame');
  socket.send({ type: 'dance', id: 'd1' });
  const unknown = await socket.next('error', (f) => f.id === 'd1');
  t.equal(unknown.code, 'unknown_type');
  socket.send({ type: 'send', id: 's1', chatId: 'x', clientMsgId: 'has spaces!', text: 'hi' });
  const invalid = await socket.next('error', (f) => f.id === 's1');
  t.equal(invalid.code, 'invalid');
  t.match(invalid.message, /clientMsgId/, 'the error names the field');
  socket.send({ type: 'send', id: 's2', chatId: 'x', clientMsgId: 'ok', text: 'a'.repeat(4001) });
  const tooLong = await socket.next('error', (f) => f.id === 's2');
  t.equal(tooLong.code, 'too_large');
  socket.send({ type: 'ping', id: 'p1' });
  const pong = await socket.next('pong', (f) => f.id === 'p1');
  t.ok(pong.serverTime > 0, 'still open and answering');
});

t.test('frames nested thousands deep get an error frame, and the instance keeps serving everyone', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(a, 'bob');
  const attacker = await online(a, alice);
  const bystander = await online(a, bob);
  const deep = '['.repeat(5_000) + ']'.repeat(5_000);
  const deepObject = '{"a":'.repeat(5_000) + '0' + '}'.repeat(5_000);
  const frames = [
    `{"type":${deep}}`,
    `{"type":${deepObject}}`,
    `{"type":"send","id":"s","chatId":${deep},"clientMsgId":"a","text":"x"}`,
    `{"type":"sync","chats":${deep}}`,
    `{"type":"history","chatId":"c","before":${deepObject}}`,
  ];
  for (const raw of frames) attacker.sendRaw(raw);
  for (let i = 0; i < frames.length; i++) {
    const refused = await attacker.next('error');
    t.equal(refused.code, 'bad_frame', `deep frame ${i + 1} is answered with bad_frame`);
  }
  attacker.send({ type: 'ping', id: 'after' });
  t.ok((await attacker.next('pong', (f) => f.id === 'after')).serverTime > 0, "the attacker's own socket is still open");
  bystander.send({ type: 'ping', id: 'other' });
  t.ok((await bystander.next('pong', (f) => f.id === 'other')).serverTime > 0, 'another socket on the instance is still served');
});

t.test('an oversize frame closes the socket with 1009', async (t) => {
  const alice = await person(a, 'alice');
  const socket = await online(a, alice);
  socket.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
  const closed = await socket.closed;
  t.equal(closed.code, 1009);
});

t.test('a socket that closes before its set-up finishes leaves nothing behind', async (t) => {
  const alice = await person(a, 'alice');
  const bob = await person(b, 'bob');
  await openDirect(a, alice, bob);
  const bobSocket = await online(b, bob);
  await bobSocket.none('presence', () => true, 0);
  for (let i = 0; i < 5; i++) {
    const client = await connect(a.wsUrl, { cookie: alice.cookie });
    client.socket.terminate();
  }
  let users = -1;
  for (let attempt = 0; attempt < 50 && users !== 0; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    users = a.app.hub.connections().filter((c) => c.user.userId === alice.userId).length;
  }
  t.equal(users, 0, 'no socket of hers stays registered on the instance');
  const last = bobSocket.frames.filter((f) => f.type === 'presence' && f.userId === alice.userId).at(-1);
  t.equal(last ? (last as { online: boolean }).online : false, false, 'and bob does not see her online');
});

/** The sender hears `ack` before its own copy of the message, whichever bus carries it. */
async function ackComesFirst(t: Tap, instance: TestInstance, label: string) {
  const alice = await person(instance, 'alice');
  const bob = await person(instance, 'bob');
  const chatId = await openDirect(instance, alice, bob);
  const aliceSocket = await online(instance, alice);
  for (let i = 0; i < 5; i++) {
    const clientMsgId = `order${i}x${Date.now()}`;
    aliceSocket.send({ type: 'send', chatId, clientMsgId, text: `in order ${i}` });
    const ack = await aliceSocket.next('ack', (f) => f.clientMsgId === clientMsgId);
    const own = await aliceSocket.next('message', (f) => f.message.clientMsgId === clientMsgId);
    t.ok(aliceSocket.frames.indexOf(ack) < aliceSocket.frames.indexOf(own), `${label}: ack ${i + 1} arrives before the sender's own copy`);
  }
}

t.test("the sender's ack arrives before its own copy of the message (Redis bus)", (t) => ackComesFirst(t, a, 'Redis bus'));

t.test("the sender's ack arrives before its own copy of the message (in-process bus)", async (t) => {
  const solo = await startInstance(t, stack, { REDIS_URL: '' });
  await ackComesFirst(t, solo, 'in-process bus');
});

t.test('one instance without Redis (what npm start runs by default) delivers too', async (t) => {
  const solo = await startInstance(t, stack, { REDIS_URL: '' });
  const alice = await person(solo, 'alice');
  const bob = await person(solo, 'bob');
  const chatId = await openDirect(solo, alice, bob);
  const aliceSocket = await online(solo, alice);
  const bobSocket = await online(solo, bob);
  await aliceSocket.next('presence', (f) => f.userId === bob.userId && f.online);
  const ack = await sendText(aliceSocket, chatId, 'no redis needed');
  const got = await bobSocket.next('message', (f) => f.message.chatId === chatId);
  t.same([got.message.seq, got.message.text], [ack.seq, 'no redis needed']);
  bobSocket.send({ type: 'typing', chatId });
  await aliceSocket.next('typing', (f) => f.userId === bob.userId);
  await bobSocket.close();
  await aliceSocket.next('presence', (f) => f.userId === bob.userId && !f.online);
  t.pass('typing and presence work in-process');
});

// ---------- the same across a Redis Cluster ----------

const noCluster = redisServerUnavailable();
if (noCluster) {
  t.skip(`across instances (Redis Cluster): cannot start a local cluster: ${noCluster}`, () => {});
} else {
  // Registered before the instances: teardowns run last-in first-out, so the cluster outlives them.
  const cluster = await startRedisCluster({ masters: 3 });
  t.teardown(() => cluster.close());
  const onCluster = { REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' };
  const [ca, cb] = [await startInstance(t, stack, onCluster), await startInstance(t, stack, onCluster)];
  acrossInstances('Redis Cluster', ca, cb);
  t.test("the sender's ack arrives before its own copy of the message (Redis Cluster, sharded bus)", (t) =>
    ackComesFirst(t, ca, 'sharded bus'),
  );
}
