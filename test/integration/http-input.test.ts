/**
 * What the HTTP API refuses before any service runs, always with a 4xx and a JSON
 * error naming the problem: numbers that are not safe integers, requests that
 * change something from another origin (or from none, with cookies), bodies that
 * are not JSON. And what it cleans: invisible and direction-changing characters in
 * titles.
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

async function raw(path: string, init: { method: string; headers: Record<string, string>; body?: string }) {
  const res = await fetch(`${instance.baseUrl}${path}`, { ...init, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : {}) as { error?: { code: string } } };
}

t.test('a state-changing request from another origin, or from none with a cookie, is refused', async (t) => {
  const alice = await person(instance, 'alice');
  const body = JSON.stringify({ title: 'forged', members: [] });
  const json = { cookie: alice.cookie, 'content-type': 'application/json' };
  const foreign = await raw('/api/chats/group', { method: 'POST', headers: { ...json, origin: 'https://evil.example' }, body });
  t.same([foreign.status, foreign.body.error?.code], [403, 'forbidden'], 'a foreign Origin: 403');
  const missing = await raw('/api/chats/group', { method: 'POST', headers: json, body });
  t.same([missing.status, missing.body.error?.code], [403, 'forbidden'], 'no Origin, with a cookie: 403');
  const logout = await raw('/logout', { method: 'POST', headers: { cookie: alice.cookie } });
  t.equal(logout.status, 403, 'sign-out with no Origin: 403');
  const chats = await api<{ chats: unknown[] }>(instance, alice, 'GET', '/chats');
  t.same([chats.status, chats.body.chats.length], [200, 0], 'still signed in, and nothing was created');
});

t.test('a CORS-simple request (text/plain, or a form) cannot change anything under /api', async (t) => {
  const alice = await person(instance, 'alice');
  const bob = await person(instance, 'bob');
  const group = await api<{ chat: { chatId: string } }>(instance, alice, 'POST', '/chats/group', {
    title: 'stay',
    members: [bob.username],
  });
  const chatId = group.body.chat.chatId;
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const leave = await raw(`/api/chats/${chatId}/leave`, {
      method: 'POST',
      headers: { cookie: alice.cookie, origin: instance.baseUrl, 'content-type': type },
      body: 'x',
    });
    t.same([leave.status, leave.body.error?.code], [415, 'unsupported_media_type'], `${type}: 415`);
  }
  const chats = await api<{ chats: { chatId: string }[] }>(instance, alice, 'GET', '/chats');
  t.ok(
    chats.body.chats.some((c) => c.chatId === chatId),
    'alice is still in the group',
  );
});

t.test('every response carries a Permissions-Policy', async (t) => {
  for (const path of ['/', '/api/chats', '/healthz']) {
    const res = await fetch(`${instance.baseUrl}${path}`);
    await res.arrayBuffer();
    t.match(res.headers.get('permissions-policy'), /camera=\(\)/, `${path}: camera, microphone, geolocation and the like are off`);
  }
});

t.test('control, bidi-override and zero-width characters are stripped from group titles', async (t) => {
  const alice = await person(instance, 'alice');
  const title = 'pay\u202Eroll\u200B\u0007 team\u2066';
  const group = await api<{ chat: { title: string } }>(instance, alice, 'POST', '/chats/group', { title, members: [] });
  t.equal(group.status, 201);
  t.equal(group.body.chat.title, 'payroll team');
  const onlyInvisible = await api<{ error: { code: string } }>(instance, alice, 'POST', '/chats/group', {
    title: '\u200B\u202E',
    members: [],
  });
  t.same([onlyInvisible.status, onlyInvisible.body.error?.code], [400, 'invalid'], 'a title of nothing visible is refused');
});
