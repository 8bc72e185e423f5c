import t from 'tap';
import {
  cookieAttributes,
  decodeLoginAttempt,
  encodeLoginAttempt,
  loginCookieName,
  safeReturnPath,
  sessionCookieName,
  type LoginAttempt,
} from '../../src/transport/http/session-cookie.js';
import { prefersHtml } from '../../src/transport/http/error-handler.js';
import { localGroupsOf, localUserId, USERNAME_PATTERN } from '../../src/local/identity-provider.js';

const ORIGIN = 'http://localhost:3000';

t.test('cookie names take the __Host- prefix over https only', async (t) => {
  t.equal(sessionCookieName({ secure: false }), 'huddle_session');
  t.equal(sessionCookieName({ secure: true }), '__Host-huddle_session');
  t.equal(loginCookieName({ secure: false }), 'huddle_login');
  t.equal(loginCookieName({ secure: true }), '__Host-huddle_login');
});

t.test('cookie attributes', async (t) => {
  t.same(cookieAttributes({ secure: true }, 600), { path: '/', httpOnly: true, sameSite: 'lax', secure: true, maxAge: 600 });
  t.same(cookieAttributes({ secure: false }), { path: '/', httpOnly: true, sameSite: 'lax', secure: false });
});

t.test('login attempts survive the round trip and expire', async (t) => {
  const attempt: LoginAttempt = { codeVerifier: 'v', state: 's', nonce: 'n', next: '/chats', expiresAt: 2000 };
  const encoded = encodeLoginAttempt(attempt);
  t.match(encoded, /^[A-Za-z0-9_-]+$/, 'cookie-safe');
  t.same(decodeLoginAttempt(encoded, 1999), attempt);
  t.equal(decodeLoginAttempt(encoded, 2000), undefined, 'expired');
  t.equal(decodeLoginAttempt('%%%', 0), undefined, 'not base64url JSON');
  t.equal(decodeLoginAttempt(Buffer.from('"text"').toString('base64url'), 0), undefined, 'not an object');
  t.equal(decodeLoginAttempt(encodeLoginAttempt({ ...attempt, state: '' }), 0), undefined, 'empty state');
  const { nonce: _nonce, ...withoutNonce } = attempt;
  t.equal(decodeLoginAttempt(Buffer.from(JSON.stringify(withoutNonce)).toString('base64url'), 0), undefined, 'no nonce');
});

t.test('only same-origin paths are returned to', async (t) => {
  const cases: [unknown, string][] = [
    ['/chats/abc?x=1#m', '/chats/abc?x=1#m'],
    ['/', '/'],
    [undefined, '/'],
    [42, '/'],
    ['', '/'],
    ['chats', '/'],
    ['//evil.example/x', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['javascript:alert(1)', '/'],
    ['/\tevil', '/'],
    ['/login', '/'],
    ['/authorize?code=x', '/'],
    ['/a/../b', '/b'],
  ];
  for (const [input, expected] of cases) t.equal(safeReturnPath(input, ORIGIN), expected, JSON.stringify(input));
});

t.test('HTML for browsers, JSON for the rest', async (t) => {
  t.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
  t.equal(prefersHtml('application/json'), false);
  t.equal(prefersHtml('*/*'), false);
  t.equal(prefersHtml(undefined), false);
});

t.test('local identity provider users', async (t) => {
  t.equal(localUserId('Alice'), localUserId('alice'), 'names are case-insensitive');
  t.not(localUserId('alice'), localUserId('bob'));
  t.match(localUserId('alice'), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID (version 8)');
  t.same(localGroupsOf('premium-zoe'), ['premium']);
  t.same(localGroupsOf('zoe'), []);
  t.ok(USERNAME_PATTERN.test('Some.User_1-x'));
  t.notOk(USERNAME_PATTERN.test('a'));
  t.notOk(USERNAME_PATTERN.test('has space'));
  t.notOk(USERNAME_PATTERN.test('x'.repeat(33)));
});
