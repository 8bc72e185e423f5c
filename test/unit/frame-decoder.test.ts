import t from 'tap';
import { decodeClientFrame } from '../../src/transport/realtime/frame-decoder.js';
import { SYNC_MAX_CHATS } from '../../src/shared/frames.js';

t.test('valid frames decode', async (t) => {
  const result = decodeClientFrame(JSON.stringify({ type: 'send', id: 'x', chatId: 'd-1', clientMsgId: 'abc', text: 'hi' }));
  t.ok(result.ok);
  t.same(result.ok && result.frame, { type: 'send', id: 'x', chatId: 'd-1', clientMsgId: 'abc', text: 'hi' });
});

t.test('each kind of bad frame gets a code and a message naming the problem', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['{oops', 'bad_frame', /JSON object/],
    ['[1,2]', 'bad_frame', /JSON object/],
    ['{"type":"shout","id":"i1"}', 'unknown_type', /shout/],
    ['{"type":"read","chatId":"c","seq":-1}', 'invalid', /seq/],
    ['{"type":"history","chatId":"c","limit":1000}', 'invalid', /limit/],
    ['{"type":"send","chatId":"c","clientMsgId":"a","text":"x","extra":1}', 'invalid', /extra|additional/i],
    ['{"type":"sync","chats":[{"chatId":"c"}]}', 'invalid', /lastSeq/],
  ];
  for (const [raw, code, message] of cases) {
    const result = decodeClientFrame(raw);
    t.notOk(result.ok, raw);
    if (!result.ok) {
      t.equal(result.code, code, `${raw} -> ${code}`);
      t.match(result.message, message);
    }
  }
  const unknown = decodeClientFrame('{"type":"shout","id":"i1"}');
  t.equal(!unknown.ok && unknown.id, 'i1', 'the id is echoed even for an unknown type');
});

const nested = (levels: number, open: string, close: string, inner = '0') => open.repeat(levels) + inner + close.repeat(levels);

t.test('a frame nested thousands deep in any field is refused without throwing', async (t) => {
  const deepArray = nested(5_000, '[', ']');
  const deepObject = nested(5_000, '{"a":', '}', '0');
  const shapes: Record<string, (deep: string) => string> = {
    type: (deep) => `{"type":${deep}}`,
    id: (deep) => `{"type":"ping","id":${deep}}`,
    chatId: (deep) => `{"type":"send","chatId":${deep},"clientMsgId":"a","text":"x"}`,
    clientMsgId: (deep) => `{"type":"send","chatId":"c","clientMsgId":${deep},"text":"x"}`,
    text: (deep) => `{"type":"send","chatId":"c","clientMsgId":"a","text":${deep}}`,
    fileKey: (deep) => `{"type":"send","chatId":"c","clientMsgId":"a","fileKey":${deep}}`,
    'read.seq': (deep) => `{"type":"read","chatId":"c","seq":${deep}}`,
    'history.before': (deep) => `{"type":"history","chatId":"c","before":${deep}}`,
    'sync.chats': (deep) => `{"type":"sync","chats":${deep}}`,
    'sync.chats[0].lastSeq': (deep) => `{"type":"sync","chats":[{"chatId":"c","lastSeq":${deep}}]}`,
    'an extra field': (deep) => `{"type":"ping","extra":${deep}}`,
    'the whole frame': (deep) => deep,
  };
  for (const [field, build] of Object.entries(shapes)) {
    for (const [kind, deep] of [
      ['array', deepArray],
      ['object', deepObject],
    ] as const) {
      let result: ReturnType<typeof decodeClientFrame> | undefined;
      t.doesNotThrow(() => (result = decodeClientFrame(build(deep))), `${field} as a deep ${kind} does not throw`);
      t.equal(result?.ok, false, `${field} as a deep ${kind} is refused`);
      t.equal(result && !result.ok && result.code, 'bad_frame', `${field} as a deep ${kind}: bad_frame`);
    }
  }
});

t.test('nesting is measured outside strings only, and up to the bound a frame still decodes', async (t) => {
  const bracketsInText = decodeClientFrame(JSON.stringify({ type: 'send', chatId: 'c', clientMsgId: 'a', text: '[[[[{{{{'.repeat(500) }));
  t.ok(bracketsInText.ok, 'brackets inside a message text are text, not nesting');
  const escapedQuote = decodeClientFrame(JSON.stringify({ type: 'send', chatId: 'c', clientMsgId: 'a', text: 'say \\"[[[[[[[[[[[[' }));
  t.ok(escapedQuote.ok, 'an escaped quote does not end the string early');
  const sync = decodeClientFrame(JSON.stringify({ type: 'sync', chats: [{ chatId: 'c', lastSeq: 3 }] }));
  t.ok(sync.ok, 'the deepest valid frame (sync) decodes');
  const slightlyDeep = decodeClientFrame('{"type":"ping","extra":[[[1]]]}');
  t.equal(!slightlyDeep.ok && slightlyDeep.code, 'invalid', 'modest nesting gets the precise schema error');
});

t.test('an unknown type is named without echoing what the client sent', async (t) => {
  const huge = decodeClientFrame(JSON.stringify({ type: 'x'.repeat(10_000) }));
  t.ok(!huge.ok && huge.message.length < 200, 'a long type is cut short in the message');
  const objectType = decodeClientFrame('{"type":{"a":[1,2,3]}}');
  t.match(!objectType.ok && objectType.message, /of kind object/);
  const arrayType = decodeClientFrame('{"type":[1]}');
  t.match(!arrayType.ok && arrayType.message, /of kind array/);
});

t.test('numbers are bounded to safe integers in every numeric field', async (t) => {
  const unsafe = ['9007199254740992', '1e308', '1e400', '-1', '1.5', '"7"'];
  const fields: Record<string, (n: string) => string> = {
    'read.seq': (n) => `{"type":"read","chatId":"c","seq":${n}}`,
    'history.before': (n) => `{"type":"history","chatId":"c","before":${n}}`,
    'history.limit': (n) => `{"type":"history","chatId":"c","limit":${n}}`,
    'sync.chats[0].lastSeq': (n) => `{"type":"sync","chats":[{"chatId":"c","lastSeq":${n}}]}`,
  };
  for (const [field, build] of Object.entries(fields)) {
    for (const n of unsafe) {
      const result = decodeClientFrame(build(n));
      t.equal(!result.ok && result.code, 'invalid', `${field} = ${n}: invalid, named in the message`);
    }
  }
  t.ok(decodeClientFrame('{"type":"read","chatId":"c","seq":9007199254740991}').ok, '2^53 - 1 is still a seq');
});

t.test('a sync frame names at most SYNC_MAX_CHATS chats', async (t) => {
  const chats = (n: number) => Array.from({ length: n }, (_, i) => ({ chatId: `c${i}`, lastSeq: 0 }));
  t.ok(decodeClientFrame(JSON.stringify({ type: 'sync', chats: chats(SYNC_MAX_CHATS) })).ok, 'up to the bound');
  const over = decodeClientFrame(JSON.stringify({ type: 'sync', chats: chats(SYNC_MAX_CHATS + 1) }));
  t.equal(!over.ok && over.code, 'invalid', 'one more is refused');
  t.match(!over.ok && over.message, /chats/);
});
