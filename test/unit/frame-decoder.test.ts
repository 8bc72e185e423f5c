import t from 'tap';
import { decodeClientFrame } from '../../src/realtime/frame-decoder.js';

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
