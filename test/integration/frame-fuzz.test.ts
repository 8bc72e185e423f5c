/**
 * No frame of any shape or size can crash an instance: generated frames (valid
 * shapes with hostile values, arbitrary JSON, raw text, nesting thousands deep in
 * every field) go through the decoder by the thousand, then over a real socket
 * into a running instance, which must refuse each bad one without an internal error
 * and keep serving.
 * An unhandled rejection anywhere fails the test file. Sized for CI: a few seconds.
 */
import t from 'tap';
import fc from 'fast-check';
import { decodeClientFrame } from '../../src/transport/realtime/frame-decoder.js';
import { ERROR_CODES } from '../../src/model/index.js';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { person } from '../helpers/people.js';
import { connectReady } from '../helpers/ws-client.js';

const FIELDS = ['type', 'id', 'chatId', 'clientMsgId', 'text', 'fileKey', 'seq', 'before', 'limit', 'chats', 'lastSeq'];
const TYPES = ['send', 'typing', 'read', 'sync', 'history', 'ping'];

/** `depth` levels of arrays or objects around a value, as raw JSON text. */
const deepJson = fc
  .record({ depth: fc.integer({ min: 1, max: 6000 }), array: fc.boolean() })
  .map(({ depth, array }) => (array ? '['.repeat(depth) + '0' + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth)));

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('1e308', '1e400', '-1e400', '9007199254740992', '-0', '0.5', 'null', 'true', '""', '"' + 'x'.repeat(70_000) + '"'),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => JSON.stringify(s)),
  deepJson,
);

/** A frame of a known type whose fields (one of them possibly deep) hold anything. */
const shapedFrame = fc
  .record({
    type: fc.oneof(
      fc.constantFrom(...TYPES).map((s) => JSON.stringify(s)),
      hostileValue,
    ),
    fields: fc.dictionary(fc.constantFrom(...FIELDS.slice(1)), hostileValue, { maxKeys: 4 }),
  })
  .map(
    ({ type, fields }) =>
      `{"type":${type}${Object.entries(fields)
        .map(([k, v]) => `,${JSON.stringify(k)}:${v}`)
        .join('')}}`,
  );

const syncFrame = fc
  .array(fc.record({ chatId: hostileValue, lastSeq: hostileValue }), { maxLength: 5 })
  .map((chats) => `{"type":"sync","chats":[${chats.map((c) => `{"chatId":${c.chatId},"lastSeq":${c.lastSeq}}`).join(',')}]}`);

const anyFrame = fc.oneof(
  shapedFrame,
  syncFrame,
  deepJson,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
);

t.test('the decoder never throws, and every refusal has a known code', async (t) => {
  fc.assert(
    fc.property(anyFrame, (raw) => {
      const result = decodeClientFrame(raw);
      return result.ok || (ERROR_CODES as string[]).includes(result.code);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 generated frames decoded or refused without throwing');
});

t.test('an instance answers generated frames over a real socket and keeps serving', async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack);
  const mallory = await person(instance, 'mallory');
  const { client } = await connectReady(instance.wsUrl, mallory.cookie);
  t.teardown(() => client.close());
  // Frames over the payload limit close the socket by design (1009); the rest must leave it open.
  const frames = fc
    .sample(anyFrame, { numRuns: 160, seed: 9 })
    .filter((f) => Buffer.byteLength(f) < instance.config.realtime.maxPayloadBytes);
  // Paced under the flood limit (a burst of 40, then 20/s), so every frame is judged, not dropped.
  for (let i = 0; i < frames.length; i++) {
    if (client.socket.readyState !== client.socket.OPEN) break;
    client.sendRaw(frames[i]!);
    if (i >= 30) await new Promise((r) => setTimeout(r, 55));
  }
  client.send({ type: 'ping', id: 'still-there' });
  const pong = await client.next('pong', (f) => f.id === 'still-there', 15_000);
  t.ok(pong, 'the socket still gets answers after every generated frame');
  const internal = client.frames.filter((f) => f.type === 'error' && f.code === 'internal');
  t.same(internal, [], 'no generated frame reached an internal error');
  const again = await connectReady(instance.wsUrl, mallory.cookie);
  t.teardown(() => again.client.close());
  t.equal(again.hello.type, 'hello', 'and the instance still accepts new sockets');
});
