/**
 * What the HTTP API refuses before any service runs, always with a 4xx and a JSON
 * error naming the problem: numbers that are not safe integers.
 */
import t from 'tap';
import { startTestStack, startInstance } from '../helpers/test-stack.js';
import { api, openDirect, person } from '../helpers/people.js';

const stack = await startTestStack(t);
const instance = await startInstance(t, stack);

t.test('numbers past 2^53 (or not integers) are a 400 naming the field, never a 500', async (t) => {
  const alice = await person(instance, 'alice');
  const bob = await person(instance, 'bob');
  const chatId = await openDirect(instance, alice, bob);
  for (const before of ['1e308', '9007199254740992', '1e400', '-5', '2.5', 'NaN']) {
    const res = await api<{ error: { code: string; message: string } }>(
      instance,
      alice,
      'GET',
      `/chats/${chatId}/messages?before=${before}`,
    );
    t.equal(res.status, 400, `before=${before}: 400`);
    t.equal(res.body.error?.code, 'invalid', `before=${before}: invalid`);
    t.match(res.body.error?.message, /before/, `before=${before}: the message names the field`);
  }
  const ok = await api(instance, alice, 'GET', `/chats/${chatId}/messages?before=9007199254740991`);
  t.equal(ok.status, 200, '2^53 - 1 is accepted');
  const upload = await api<{ error: { code: string } }>(instance, alice, 'POST', `/chats/${chatId}/files`, {
    name: 'a.png',
    type: 'image/png',
    size: 1e308,
  });
  t.equal(upload.status, 400, 'an upload size past 2^53: 400');
  t.equal(upload.body.error?.code, 'invalid');
});
