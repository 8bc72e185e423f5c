/**
 * DynamoDB unreachable from one instance, through a real socket: the instance talks
 * to DynamoDB Local through a TCP hop that first refuses (every connection reset:
 * the endpoint is gone) and then blackholes (connections accepted, nothing crosses,
 * no FIN: the endpoint vanished). Sends get `unavailable` and no ack, the other
 * member (on an instance that still reaches DynamoDB) receives nothing of them, and
 * once the hop heals a send succeeds with no restart and sync holds exactly the
 * acknowledged messages.
 */
import t, { type Test as Tap } from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { openDirect, person } from '../helpers/people.js';
import { connectReady, type ChatClient } from '../helpers/ws-client.js';

const stack = await startTestStack(t);
const dynamodbPort = Number(new URL(stack.dynamodbEndpoint).port);

/** Short, so a test waits seconds, not the production default. */
const COMMIT_DEADLINE_MS = 2000;
/** The SDK's own per-request timeout (src/adapters/dynamodb/client.ts). */
const SDK_REQUEST_TIMEOUT_MS = 10_000;

async function online(t: Tap, wsUrl: string, cookie: string): Promise<ChatClient> {
  const { client } = await connectReady(wsUrl, cookie);
  t.teardown(() => client.close());
  return client;
}

for (const fault of ['refuse', 'blackhole'] as const) {
  t.test(
    `DynamoDB ${fault === 'refuse' ? 'refusing connections' : 'blackholed'}: unavailable, nothing published, recovery with no restart`,
    async (t) => {
      const proxy = await startTcpProxy({ port: dynamodbPort });
      t.teardown(() => proxy.close());
      const cut = await startInstance(t, stack, {
        DYNAMODB_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
        COMMIT_DEADLINE_MS: String(COMMIT_DEADLINE_MS),
      });
      const whole = await startInstance(t, stack);
      const alice = await person(cut, 'alice');
      const bob = await person(whole, 'bob');
      const chatId = await openDirect(cut, alice, bob);
      const aliceSocket = await online(t, cut.wsUrl, alice.cookie);
      const bobSocket = await online(t, whole.wsUrl, bob.cookie);

      aliceSocket.send({ type: 'send', chatId, clientMsgId: 'before', text: 'before the outage' });
      const first = await aliceSocket.next('ack', (f) => f.clientMsgId === 'before');
      await bobSocket.next('message', (f) => f.message.clientMsgId === 'before');

      proxy[fault]();
      const failedIds = ['during-1', 'during-2'];
      const started = performance.now();
      for (const clientMsgId of failedIds) aliceSocket.send({ type: 'send', chatId, clientMsgId, text: `lost ${clientMsgId}` });
      for (const clientMsgId of failedIds) {
        // Waiting less than the SDK's own request timeout: the answer must come from the
        // commit deadline, not from a request left to run out on a connection that is dead.
        const refusal = await aliceSocket.next(
          'error',
          (f) => f.frame === 'send' && f.details?.clientMsgId === clientMsgId,
          SDK_REQUEST_TIMEOUT_MS - 1000,
        );
        t.equal(refusal.code, 'unavailable', `${clientMsgId}: the sender is told the send was not stored`);
      }
      t.comment(
        `${fault}: both sends answered unavailable after ${Math.round(performance.now() - started)} ms (COMMIT_DEADLINE_MS ${COMMIT_DEADLINE_MS})`,
      );
      t.notOk(
        aliceSocket.frames.some((f) => f.type === 'ack' && failedIds.includes(f.clientMsgId)),
        'no ack for a send that was not stored',
      );
      await bobSocket.none('message', (f) => f.type === 'message' && f.message.chatId === chatId, 300);

      proxy.heal();
      aliceSocket.send({ type: 'send', chatId, clientMsgId: 'after', text: 'after the outage' });
      const after = await aliceSocket.next('ack', (f) => f.clientMsgId === 'after', 15_000);
      // Seqs the failed commits took may stay holes (their outcome was unknown): sync skips them.
      t.ok(after.seq > first.seq, 'after heal a send is stored and acked with no restart');
      const live = await bobSocket.next('message', (f) => f.message.clientMsgId === 'after');
      t.equal(live.message.seq, after.seq, 'and the other member receives it live');
      t.notOk(
        bobSocket.frames.some((f) => f.type === 'message' && failedIds.includes(f.message.clientMsgId ?? '')),
        'the other member never received a send that was not stored',
      );

      bobSocket.send({ type: 'sync', chats: [{ chatId, lastSeq: 0 }] });
      const synced = await bobSocket.next('synced', (f) => f.chatId === chatId);
      t.same(
        synced.messages.map((m) => [m.seq, m.clientMsgId]),
        [
          [first.seq, 'before'],
          [after.seq, 'after'],
        ],
        'sync holds exactly the acknowledged messages, once each, in order',
      );
    },
  );
}
