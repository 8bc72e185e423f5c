/**
 * Signed out means signed out, on every instance: the sign-out is published on
 * the bus, and each instance closes the sockets of that session (4501) the moment
 * it hears it, long before the periodic session check (once a minute) would.
 * A session's absolute expiry closes its sockets where they are, with no read.
 */
import t from 'tap';
import { startTestStack, startInstance, type TestInstance } from '../helpers/test-stack.js';
import { openDirect, person, type Person } from '../helpers/people.js';
import { signIn } from '../helpers/sign-in.js';
import { connect, connectReady, type ChatClient } from '../helpers/ws-client.js';

/**
 * Far below the periodic check's 60 s: a close within it came from the bus. The
 * guarantee is 1 s; the deadline leaves room for a loaded test machine.
 */
const CLOSE_DEADLINE_MS = 5_000;

const stack = await startTestStack(t);
const a = await startInstance(t, stack);
const b = await startInstance(t, stack);

async function online(instance: TestInstance, cookie: string): Promise<ChatClient> {
  const { client } = await connectReady(instance.wsUrl, cookie);
  t.teardown(() => client.close());
  return client;
}

function closedWithin(client: ChatClient, ms: number): Promise<{ code: number; reason: string } | 'still open'> {
  return Promise.race([client.closed, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms))]);
}

/** Signs out as the page does (a JSON request); the answer names where the browser goes next. */
async function logout(instance: TestInstance, cookie: string): Promise<number> {
  const res = await fetch(`${instance.baseUrl}/logout`, {
    method: 'POST',
    headers: { cookie, origin: instance.baseUrl, 'content-type': 'application/json' },
    body: '{}',
    redirect: 'manual',
  });
  await res.arrayBuffer();
  return res.status;
}

t.test("sign-out closes that session's sockets on every instance, and only those", async (t) => {
  const alice = await person(a, 'alice');
  const bob: Person = await person(a, 'bob');
  const chatId = await openDirect(a, alice, bob);
  // A second sign-in of the same user: another session, which must stay open.
  const otherSession = await signIn(b.baseUrl, alice.username);

  const onA = await online(a, alice.cookie);
  const onB = await online(b, alice.cookie);
  const otherTab = await online(b, otherSession.cookie);
  const bobSocket = await online(a, bob.cookie);

  t.equal(await logout(a, alice.cookie), 200, 'signed out');
  const [closedA, closedB] = await Promise.all([closedWithin(onA, CLOSE_DEADLINE_MS), closedWithin(onB, CLOSE_DEADLINE_MS)]);
  t.match(closedA, { code: 4501 }, 'the socket on the signing-out instance closes with 4501');
  t.match(closedB, { code: 4501 }, 'the socket on the other instance closes with 4501');

  const received = { a: onA.frames.length, b: onB.frames.length };
  bobSocket.send({ type: 'send', chatId, clientMsgId: 'after-logout', text: 'still there?' });
  const live = await otherTab.next('message', (f) => f.message.clientMsgId === 'after-logout');
  t.equal(live.message.text, 'still there?', "the user's other session keeps working");
  t.equal(await closedWithin(otherTab, 200), 'still open', 'and stays open');
  t.same({ a: onA.frames.length, b: onB.frames.length }, received, 'the ended sockets receive nothing after');
});

t.test("a session's absolute expiry closes its socket when it passes", async (t) => {
  const shortLived = await startInstance(t, stack, { SESSION_ABSOLUTE_TIMEOUT_S: '3', SESSION_IDLE_TIMEOUT_S: '3' });
  const carol = await person(shortLived, 'carol');
  const { client } = await connectReady(shortLived.wsUrl, carol.cookie);
  t.teardown(() => client.close());
  const closed = await closedWithin(client, 3_000 + CLOSE_DEADLINE_MS);
  t.match(closed, { code: 4501 }, 'closed with 4501, without waiting for the periodic check');
});

t.test('a sign-out racing a socket that is still opening leaves no socket open', async (t) => {
  const dave = await person(a, 'dave');
  const outcomes = { refused: 0, closed4501: 0, stillOpen: 0 };
  // The gap is between the upgrade's session read and the user-channel subscription,
  // a few milliseconds wide: many trials with the sign-out at varied offsets hit it.
  for (let trial = 0; trial < 24; trial++) {
    const session = await signIn(b.baseUrl, dave.username);
    const opening = connect(b.wsUrl, { cookie: session.cookie }).then(
      (client) => {
        t.teardown(() => client.close());
        return client;
      },
      (err: { statusCode?: number }) => err.statusCode ?? 0,
    );
    await new Promise((resolve) => setTimeout(resolve, trial % 12));
    t.equal(await logout(a, session.cookie), 200);
    const client = await opening;
    if (typeof client === 'number') {
      t.equal(client, 401, 'an upgrade that comes after the sign-out is refused');
      outcomes.refused += 1;
      continue;
    }
    const closed = await closedWithin(client, CLOSE_DEADLINE_MS);
    if (closed === 'still open') outcomes.stillOpen += 1;
    else if (closed.code === 4501) outcomes.closed4501 += 1;
  }
  t.comment(`outcomes: ${JSON.stringify(outcomes)}`);
  t.equal(outcomes.stillOpen, 0, 'every socket of the ended session is refused or closed with 4501');
});
