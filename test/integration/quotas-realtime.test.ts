/**
 * Quotas as people meet them: two instances on real ports sharing Redis and
 * DynamoDB Local, people signed in through the real flow, real WebSocket clients.
 * The free limit is 20 messages a day here (premium 40) to keep the test short.
 */
import t from 'tap';
import { startTestStack, startInstance, type TestInstance } from '../helpers/test-stack.js';
import { api, openDirect, person, type Person } from '../helpers/people.js';
import { connectReady, type ChatClient, type Frame } from '../helpers/ws-client.js';

const env = { FREE_MESSAGES_PER_DAY: '20', PREMIUM_MESSAGES_PER_DAY: '40' };
const stack = await startTestStack(t);
const a = await startInstance(t, stack, env);
const b = await startInstance(t, stack, env);

async function online(instance: TestInstance, who: Person) {
  const ready = await connectReady(instance.wsUrl, who.cookie);
  t.teardown(() => ready.client.close());
  return ready;
}

let counter = 0;
const nextId = () => `q${++counter}${Date.now().toString(36)}`;

/** Sends a text and resolves to its ack or its error frame, whichever answers it. */
function send(client: ChatClient, chatId: string, text: string): Promise<Frame> {
  const clientMsgId = nextId();
  client.send({ type: 'send', id: clientMsgId, chatId, clientMsgId, text });
  return Promise.race([
    client.next('ack', (f) => f.clientMsgId === clientMsgId, 30_000),
    client.next('error', (f) => f.id === clientMsgId, 30_000),
  ]);
}

t.test('usage is in hello and in GET /api/me', async (t) => {
  const ann = await person(a, 'ann');
  const { hello } = await online(a, ann);
  const expected = { tier: 'free', messagesToday: 0, messagesPerDay: 20, storageBytes: 0, storageLimitBytes: 25 * 1024 * 1024 };
  t.match(hello.quota, expected);
  const nextMidnight = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
  t.ok([nextMidnight, nextMidnight + 86_400_000].includes(hello.quota.resetsAt), 'resets at the next UTC midnight');
  const me = await api<{ user: { tier: string }; quota: Record<string, unknown> }>(b, ann, 'GET', '/me');
  t.equal(me.status, 200);
  t.match(me.body, { user: { tier: 'free' }, quota: expected });
});

t.test('50 concurrent sends through two instances at the free limit: exactly the limit is accepted', async (t) => {
  const ann = await person(a, 'ann');
  const bob = await person(b, 'bob');
  const chatId = await openDirect(a, ann, bob);
  const { client: annOnA } = await online(a, ann);
  const { client: annOnB } = await online(b, ann);
  const { client: bobOnB } = await online(b, bob);

  // 1. Fifty at once, half through each instance.
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => send(i % 2 === 0 ? annOnA : annOnB, chatId, `message ${i}`)));
  const acks = answers.filter((f) => f.type === 'ack');
  const refusals = answers.filter((f) => f.type === 'error');
  t.equal(acks.length, 20, 'exactly 20 accepted');
  t.equal(refusals.length, 30);
  t.ok(
    refusals.every((f) => f.code === 'quota_exceeded'),
    'the rest refused with quota_exceeded',
  );
  t.match(refusals[0], { frame: 'send', details: { limit: 20, tier: 'free' } });
  t.ok(typeof (refusals[0] as { details?: { resetsAt?: unknown } }).details?.resetsAt === 'number', 'and say when the limit resets');

  // 2. Only what was accepted was stored and delivered.
  const history = await api<{ messages: { seq: number }[] }>(a, bob, 'GET', `/chats/${chatId}/messages?limit=100`);
  t.equal(history.body.messages.length, 20, 'refused messages were never stored');
  t.same(
    history.body.messages.map((m) => m.seq).sort((x, y) => x - y),
    acks.map((f) => f.seq).sort((x, y) => x - y),
  );
  for (let i = 0; i < 20; i++) await bobOnB.next('message', (f) => f.message.chatId === chatId);
  await bobOnB.none('message', undefined, 300);
  t.equal((await b.services.quotas.summary(ann.userId)).messagesToday, 20);
});

t.test('switching a user to premium raises the limit on a live socket at once', async (t) => {
  const ann = await person(a, 'ann');
  const bob = await person(a, 'bob');
  const chatId = await openDirect(a, ann, bob);
  const { client: annSocket } = await online(a, ann);
  for (let i = 0; i < 20; i++) t.equal((await send(annSocket, chatId, `m${i}`)).type, 'ack');
  const refused = await send(annSocket, chatId, 'one too many');
  t.match(refused, { type: 'error', code: 'quota_exceeded', details: { limit: 20, tier: 'free' } });

  // 1. An operator switches Ann to premium through the other instance's service
  //    (what `npm run user:tier` does, through the same Redis).
  const change = await b.services.quotas.setTier(ann.username, 'premium');
  t.equal(change.notified, true);

  // 2. Ann's open socket on instance A hears it, and her next message goes through.
  const pushed = await annSocket.next('quota', (f) => f.quota.tier === 'premium');
  t.match(pushed.quota, { tier: 'premium', messagesToday: 20, messagesPerDay: 40 });
  const accepted = await send(annSocket, chatId, 'premium now');
  t.equal(accepted.type, 'ack', 'the very next message is accepted');
});
