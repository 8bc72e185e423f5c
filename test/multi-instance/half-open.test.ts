/**
 * A client that vanishes without a FIN (a phone losing its network, a laptop lid
 * closed): its socket behind a TCP hop that is then blackholed, so the server sees
 * an open connection over which nothing arrives any more. The server's ping finds it
 * (`WS_PING_INTERVAL_MS`: a peer that has not answered the previous ping is dropped
 * at the next), and presence follows: a member on another instance sees it go offline.
 */
import t from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { openDirect, person } from '../helpers/people.js';
import { connect, connectReady } from '../helpers/ws-client.js';

const stack = await startTestStack(t);
const PING_INTERVAL_MS = 500;

t.test('a half-open client is dropped by the next ping but one, and the others see it go offline', async (t) => {
  const near = await startInstance(t, stack, { WS_PING_INTERVAL_MS: String(PING_INTERVAL_MS) });
  const far = await startInstance(t, stack);
  const alice = await person(near, 'alice');
  const bob = await person(far, 'bob');
  await openDirect(near, alice, bob);

  const { client: bobSocket } = await connectReady(far.wsUrl, bob.cookie);
  t.teardown(() => bobSocket.close());
  const hop = await startTcpProxy({ port: Number(new URL(near.baseUrl).port) });
  t.teardown(() => hop.close());
  const aliceSocket = await connect(`ws://127.0.0.1:${hop.port}/ws`, { cookie: alice.cookie, origin: near.baseUrl });
  t.teardown(() => aliceSocket.close());
  await aliceSocket.next('hello');
  await bobSocket.next('presence', (f) => f.userId === alice.userId && f.online);

  // A client that answers its pings is kept, however many intervals pass.
  await bobSocket.none('presence', (f) => f.type === 'presence' && f.userId === alice.userId && !f.online, 4 * PING_INTERVAL_MS);
  t.pass(`alice, answering pings through the hop, stays online over ${4 * PING_INTERVAL_MS} ms`);

  hop.blackhole();
  const vanished = performance.now();
  // Dropped within two intervals (the ping that goes unanswered, then the next);
  // the wait is ten, so a loaded machine does not fail the test, while a server
  // without the ping would leave alice online for good (no FIN ever arrives).
  const offline = await bobSocket.next('presence', (f) => f.userId === alice.userId && !f.online, 10 * PING_INTERVAL_MS);
  t.equal(offline.online, false, 'bob, on another instance, sees alice go offline');
  t.comment(`offline seen ${Math.round(performance.now() - vanished)} ms after alice vanished (ping interval ${PING_INTERVAL_MS} ms)`);
});
