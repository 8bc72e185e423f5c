/**
 * Sign-in end to end over real HTTP: the app on a real port, the local identity
 * provider, DynamoDB Local. Every bad input gets a 4xx answer and writes nothing.
 */
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CLIENT_ID, localUserId } from '../../src/local/identity-provider.js';
import { createSessionsRepository } from '../../src/adapters/dynamodb/sessions-repository.js';
import { hashSessionId, newSessionId } from '../../src/domain/sessions/session-service.js';
import { SignInError, type SessionRecord } from '../../src/domain/sessions/ports.js';
import { sessionKey } from '../../src/adapters/dynamodb/table.js';
import { freePort, startInstance, startTestStack, uniqueId, type TestInstance } from '../helpers/test-stack.js';
import { CookieJar, browserFetch, reachCallback, signIn } from '../helpers/sign-in.js';

const JSON_ACCEPT = 'application/json';

/** The JSON bodies these routes answer with: an error, or the signed-in user. */
interface JsonBody {
  error?: { code?: string; message?: string; login?: string };
  user?: { tier?: string };
  quota?: { tier?: string; messagesToday?: number };
}

const stack = await startTestStack(t);
const instance = await startInstance(t, stack, { REDIS_URL: '' });
const sessionsRepo = createSessionsRepository(stack.store.db, stack.store.tables.sessions);

async function sessionCount(): Promise<number> {
  const res = await stack.store.doc.send(
    new ScanCommand({ TableName: stack.store.tables.sessions, Select: 'COUNT', ConsistentRead: true }),
  );
  return res.Count ?? 0;
}

const cookieValue = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);
const username = (label: string) => uniqueId(label).toLowerCase().slice(0, 32);

async function me(target: TestInstance, cookie: string | undefined, accept = JSON_ACCEPT) {
  const res = await fetch(`${target.baseUrl}/api/me`, { headers: { accept, ...(cookie ? { cookie } : {}) } });
  const text = await res.text();
  return { res, text, body: res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as JsonBody) : undefined };
}

/** Asserts a JSON failure of the agreed shape. */
function assertJsonError(tt: Test, res: Response, body: JsonBody | undefined, status: number, code: string) {
  tt.equal(res.status, status, `HTTP ${status}`);
  tt.equal(body?.error?.code, code);
  tt.equal(body?.error?.login, '/login');
  tt.type(body?.error?.message, 'string');
}

async function callback(jar: CookieJar, url: URL, accept = JSON_ACCEPT) {
  const { res, body } = await browserFetch(jar, url, { accept });
  return {
    res,
    text: body,
    body: res.headers.get('content-type')?.includes('json') ? (JSON.parse(body) as JsonBody) : undefined,
  };
}

t.test('sign in, use the session, sign out', async (t) => {
  const name = username('alice');
  const before = await sessionCount();

  // 1. /login sends the browser to the provider with PKCE, state and nonce.
  const jar = new CookieJar();
  const login = await browserFetch(jar, new URL('/login', instance.baseUrl));
  t.equal(login.res.status, 302);
  const authorizeUrl = new URL(login.res.headers.get('location')!);
  t.equal(`${authorizeUrl.origin}${authorizeUrl.pathname}`, `${stack.issuer}/oauth2/authorize`);
  t.equal(authorizeUrl.searchParams.get('client_id'), LOCAL_CLIENT_ID);
  t.equal(authorizeUrl.searchParams.get('redirect_uri'), `${instance.baseUrl}/authorize`);
  t.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
  t.ok(authorizeUrl.searchParams.get('state'));
  t.ok(authorizeUrl.searchParams.get('nonce'));
  const loginCookie = login.res.headers.getSetCookie().find((c) => c.startsWith('huddle_login='));
  t.match(loginCookie, /HttpOnly/i);
  t.match(loginCookie, /SameSite=Lax/i);
  t.match(loginCookie, /Max-Age=600/);

  // 2. The provider's form, then back to /authorize.
  const { callbackUrl } = await reachCallback(instance.baseUrl, name, { jar });
  const done = await browserFetch(jar, callbackUrl);
  t.equal(done.res.status, 302);
  t.equal(done.res.headers.get('location'), '/');
  const setCookies = done.res.headers.getSetCookie();
  const sessionSetCookie = setCookies.find((c) => c.startsWith('huddle_session='));
  t.match(sessionSetCookie, /HttpOnly/i);
  t.match(sessionSetCookie, /SameSite=Lax/i);
  t.match(sessionSetCookie, /Path=\//);
  t.notMatch(sessionSetCookie, /Secure/i, 'no Secure flag over plain http');
  t.ok(
    setCookies.some((c) => c.startsWith('huddle_login=;')),
    'the login cookie is cleared',
  );
  const cookie = `huddle_session=${jar.get(callbackUrl, 'huddle_session')}`;
  t.equal(await sessionCount(), before + 1, 'one session row');

  // 3. The session row: keyed by the hash of the cookie, never the cookie itself.
  const record = await sessionsRepo.get(hashSessionId(cookieValue(cookie)));
  t.ok(record, 'the row is keyed by the hash of the cookie value');
  t.equal(record!.userId, localUserId(name));
  t.ok(record!.tokens.refreshToken, 'a refresh token is kept');
  t.equal(record!.ttl, Math.ceil(record!.expiresAt / 1000), 'ttl is the absolute expiry');
  t.equal(record!.expiresAt - record!.createdAt, instance.config.session.absoluteTimeoutS * 1000);
  t.equal(await sessionsRepo.get(cookieValue(cookie)), undefined, 'no row under the raw cookie value');

  // 4. /api/me
  const signedIn = await me(instance, cookie);
  t.equal(signedIn.res.status, 200);
  t.same(signedIn.body?.user, { userId: localUserId(name), username: name, email: `${name}@huddle.local`, tier: 'free' });
  t.match(signedIn.body?.quota, { tier: 'free', messagesToday: 0 }, 'with the usage and limits');
  t.equal(await instance.services.sessions.validate(record!.sessionHash), true);

  // 5. Sign out: row gone, token revoked, cookie cleared, off to the provider's logout.
  const out = await browserFetch(jar, new URL('/logout', instance.baseUrl), { method: 'POST', json: {} });
  t.equal(out.res.status, 200);
  const logoutUrl = new URL((JSON.parse(out.body) as { redirectTo: string }).redirectTo);
  t.equal(`${logoutUrl.origin}${logoutUrl.pathname}`, `${stack.issuer}/logout`);
  t.equal(logoutUrl.searchParams.get('client_id'), LOCAL_CLIENT_ID);
  t.equal(logoutUrl.searchParams.get('logout_uri'), `${instance.baseUrl}/`);
  t.ok(
    out.res.headers.getSetCookie().some((c) => c.startsWith('huddle_session=;')),
    'the session cookie is cleared',
  );
  t.equal(await sessionsRepo.get(record!.sessionHash), undefined, 'the row is gone');
  t.equal(await instance.services.sessions.validate(record!.sessionHash), false);
  await t.rejects(instance.services.identity.client.refresh(record!.tokens.refreshToken!), SignInError, 'the refresh token was revoked');

  // 6. The provider's logout returns to the app.
  const providerLogout = await browserFetch(jar, logoutUrl);
  t.equal(providerLogout.res.status, 302);
  t.equal(providerLogout.res.headers.get('location'), `${instance.baseUrl}/`);

  const after = await me(instance, cookie);
  assertJsonError(t, after.res, after.body, 401, 'unauthorized');
});

t.test('the same username is the same user on every sign-in', async (t) => {
  const name = username('carol');
  const first = await signIn(instance.baseUrl, name);
  const second = await signIn(instance.baseUrl, name.toUpperCase());
  t.equal(first.userId, second.userId);
  t.not(first.cookie, second.cookie, 'each sign-in opens its own session');
  t.equal((await me(instance, first.cookie)).res.status, 200);
  t.equal((await me(instance, second.cookie)).res.status, 200);
});

t.test('a member of the premium group signs in as premium', async (t) => {
  const name = username('premiumdan');
  const { cookie } = await signIn(instance.baseUrl, name);
  const { body } = await me(instance, cookie);
  t.equal(body?.user?.tier, 'premium');
});

t.test('sign-in returns to a same-origin "next" path only', async (t) => {
  const back = async (next: string) => {
    const { jar, callbackUrl } = await reachCallback(instance.baseUrl, username('erin'), { next });
    const { res } = await browserFetch(jar, callbackUrl);
    return res.headers.get('location');
  };
  t.equal(await back('/chats/abc?x=1'), '/chats/abc?x=1');
  t.equal(await back('//evil.example/steal'), '/');
  t.equal(await back('https://evil.example/'), '/');
});

t.test('a callback that does not match the sign-in started writes nothing', async (t) => {
  const cases: { name: string; tamper: (jar: CookieJar, url: URL) => void; status: number; code: string }[] = [
    { name: 'wrong state', tamper: (_jar, url) => url.searchParams.set('state', 'not-the-state'), status: 400, code: 'invalid' },
    { name: 'missing state', tamper: (_jar, url) => url.searchParams.delete('state'), status: 400, code: 'invalid' },
    { name: 'missing login cookie', tamper: (jar, url) => jar.delete(url, 'huddle_login'), status: 400, code: 'invalid' },
    {
      name: 'forged login cookie',
      tamper: (jar, url) => {
        const [value] = jar.get(url, 'huddle_login')!.split('.');
        jar.set(url, 'huddle_login', `${value}.forgedsignature`);
      },
      status: 400,
      code: 'invalid',
    },
    {
      name: 'forged code',
      tamper: (_jar, url) => url.searchParams.set('code', randomBytes(32).toString('base64url')),
      status: 400,
      code: 'invalid',
    },
    { name: 'missing code', tamper: (_jar, url) => url.searchParams.delete('code'), status: 400, code: 'invalid' },
    {
      name: 'provider error',
      tamper: (_jar, url) => {
        url.searchParams.delete('code');
        url.searchParams.set('error', 'access_denied');
      },
      status: 400,
      code: 'invalid',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const name = username('mallory');
      const before = await sessionCount();
      const { jar, callbackUrl } = await reachCallback(instance.baseUrl, name);
      c.tamper(jar, callbackUrl);
      const { res, body } = await callback(jar, callbackUrl);
      assertJsonError(t, res, body, c.status, c.code);
      t.notOk(
        res.headers.getSetCookie().some((s) => s.startsWith('huddle_session=') && !s.startsWith('huddle_session=;')),
        'no session cookie',
      );
      t.equal(await sessionCount(), before, 'no session row');
      t.equal(await stack.store.users.getById(localUserId(name)), undefined, 'no user row');
    });
  }
});

t.test('a code used once cannot be used again', async (t) => {
  const { jar, callbackUrl } = await reachCallback(instance.baseUrl, username('frank'));
  const loginCookie = jar.get(callbackUrl, 'huddle_login')!;
  const first = await callback(jar, callbackUrl);
  t.equal(first.res.status, 302);
  const before = await sessionCount();
  // Replay the callback with everything it had the first time, login cookie included.
  jar.set(callbackUrl, 'huddle_login', loginCookie);
  const replay = await callback(jar, callbackUrl);
  assertJsonError(t, replay.res, replay.body, 400, 'invalid');
  t.match(replay.body?.error?.message, /already used/);
  t.equal(await sessionCount(), before, 'no second session');
});

t.test('a browser gets a page with a way back to /login', async (t) => {
  const { jar } = await reachCallback(instance.baseUrl, username('gina'));
  const { res, body } = await browserFetch(jar, new URL('/authorize?error=access_denied&state=x', instance.baseUrl));
  t.equal(res.status, 400);
  t.match(res.headers.get('content-type'), /text\/html/);
  t.match(body, /cancelled/);
  t.match(body, /href="\/login"/);

  const page = await me(instance, undefined, 'text/html');
  t.equal(page.res.status, 401);
  t.match(page.text, /href="\/login"/);
});

t.test('cancelling at the provider comes back as a clear refusal', async (t) => {
  const jar = new CookieJar();
  let url = new URL('/login', instance.baseUrl);
  let step = await browserFetch(jar, url);
  while (step.res.status >= 300 && step.res.status < 400) {
    url = new URL(step.res.headers.get('location')!, url);
    if (url.pathname === '/authorize') break;
    step = await browserFetch(jar, url);
  }
  if (url.pathname !== '/authorize') {
    const abort = /action="([^"]*\/abort)"/.exec(step.body)?.[1];
    t.ok(abort, 'the provider offers a way out');
    url = new URL(abort!, url);
    step = await browserFetch(jar, url, { method: 'POST', form: {} });
    while (step.res.status >= 300 && step.res.status < 400) {
      url = new URL(step.res.headers.get('location')!, url);
      if (url.pathname === '/authorize') break;
      step = await browserFetch(jar, url);
    }
  }
  t.equal(url.searchParams.get('error'), 'access_denied');
  const before = await sessionCount();
  const { res, body } = await callback(jar, url);
  assertJsonError(t, res, body, 400, 'invalid');
  t.match(body?.error?.message, /cancelled/);
  t.equal(await sessionCount(), before);
});

t.test('a session cookie that opens no valid session is refused', async (t) => {
  const name = username('henry');
  const { userId } = await signIn(instance.baseUrl, name);
  const now = Date.now();
  const idleMs = instance.config.session.idleTimeoutS * 1000;

  /** Writes a session row straight into the table and returns a cookie for it. */
  async function plant(shape: (now: number) => Partial<SessionRecord>): Promise<{ cookie: string; sessionHash: string }> {
    const sessionId = newSessionId();
    const sessionHash = hashSessionId(sessionId);
    const expiresAt = now + 3_600_000;
    await sessionsRepo.create({
      sessionHash,
      userId,
      tokens: { accessToken: 'x', accessTokenExpiresAt: now + 3_600_000 },
      createdAt: now - 1000,
      lastSeenAt: now - 1000,
      expiresAt,
      ttl: Math.ceil(expiresAt / 1000),
      ...shape(now),
    });
    return { cookie: `huddle_session=${sessionId}`, sessionHash };
  }

  await t.test('a planted row that is valid works (the control)', async (t) => {
    const { cookie, sessionHash } = await plant(() => ({}));
    t.equal((await me(instance, cookie)).res.status, 200);
    t.equal(await instance.services.sessions.validate(sessionHash), true);
  });

  const refused: [string, () => Promise<{ cookie: string; sessionHash?: string }>][] = [
    ['forged cookie of the right shape', async () => ({ cookie: `huddle_session=${newSessionId()}` })],
    ['garbage cookie', async () => ({ cookie: 'huddle_session=%00not-a-session' })],
    ['absolute expiry passed, row still there', () => plant((n) => ({ expiresAt: n - 1000, ttl: Math.floor((n - 1000) / 1000) }))],
    ['ttl passed (DynamoDB has not deleted it yet)', () => plant((n) => ({ ttl: Math.floor(n / 1000) - 60 }))],
    ['idle for longer than the idle timeout', () => plant((n) => ({ lastSeenAt: n - idleMs - 1000 }))],
  ];
  for (const [label, make] of refused) {
    await t.test(label, async (t) => {
      const { cookie, sessionHash } = await make();
      const { res, body } = await me(instance, cookie);
      assertJsonError(t, res, body, 401, 'unauthorized');
      t.ok(
        res.headers.getSetCookie().some((c) => c.startsWith('huddle_session=;')),
        'the dead cookie is cleared',
      );
      if (sessionHash) t.equal(await instance.services.sessions.validate(sessionHash), false);
    });
  }

  const none = await me(instance, undefined);
  assertJsonError(t, none.res, none.body, 401, 'unauthorized');
});

t.test('sign-out only from the app itself', async (t) => {
  const { cookie } = await signIn(instance.baseUrl, username('ivan'));
  const res = await fetch(`${instance.baseUrl}/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, origin: 'https://evil.example', accept: JSON_ACCEPT },
  });
  t.equal(res.status, 403);
  t.equal((await me(instance, cookie)).res.status, 200, 'still signed in');
  t.equal((await fetch(`${instance.baseUrl}/logout`, { redirect: 'manual', headers: { cookie } })).status, 404, 'no GET /logout');
  const form = await fetch(`${instance.baseUrl}/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, origin: instance.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    body: '',
  });
  t.equal(form.status, 415, 'a form post (which another site could make) is refused, even with the right origin');
  t.equal((await me(instance, cookie)).res.status, 200, 'still signed in');
});

t.test('lastSeenAt moves at most once a minute', async (t) => {
  const { cookie } = await signIn(instance.baseUrl, username('judy'));
  const sessionHash = hashSessionId(cookieValue(cookie));
  const recent = Date.now() - 30_000;
  const old = Date.now() - 120_000;
  const setLastSeen = (value: number) =>
    stack.store.doc.send(
      new UpdateCommand({
        TableName: stack.store.tables.sessions,
        Key: sessionKey(sessionHash),
        UpdateExpression: 'SET last_seen_at = :v',
        ExpressionAttributeValues: { ':v': value },
      }),
    );
  await setLastSeen(recent);
  await me(instance, cookie);
  t.equal((await sessionsRepo.get(sessionHash))!.lastSeenAt, recent, 'untouched within the minute');
  await setLastSeen(old);
  await me(instance, cookie);
  t.ok((await sessionsRepo.get(sessionHash))!.lastSeenAt > old, 'touched after a minute');
});

t.test('tokens near expiry are refreshed while the session is used', async (t) => {
  const { cookie } = await signIn(instance.baseUrl, username('karl'));
  const sessionHash = hashSessionId(cookieValue(cookie));
  const original = (await sessionsRepo.get(sessionHash))!;
  const soon = Date.now() + 60_000;
  await stack.store.doc.send(
    new UpdateCommand({
      TableName: stack.store.tables.sessions,
      Key: sessionKey(sessionHash),
      UpdateExpression: 'SET access_token_expires_at = :soon',
      ExpressionAttributeValues: { ':soon': soon },
    }),
  );

  await t.test('the provider is unreachable: the request still works, tokens stay', async (t) => {
    // A second instance on the same tables whose provider address answers nothing.
    const deadIssuer = `http://127.0.0.1:${await freePort()}`;
    const other = await startInstance(t, stack, { REDIS_URL: '', OIDC_ISSUER: deadIssuer });
    t.equal((await me(other, cookie)).res.status, 200);
    const row = (await sessionsRepo.get(sessionHash))!;
    t.equal(row.tokens.accessToken, original.tokens.accessToken);
    t.equal(row.tokens.accessTokenExpiresAt, soon);
    // Let the next attempt go ahead at once instead of a minute later.
    await stack.store.doc.send(
      new UpdateCommand({
        TableName: stack.store.tables.sessions,
        Key: sessionKey(sessionHash),
        UpdateExpression: 'REMOVE refresh_claimed_at',
      }),
    );
  });

  await t.test('the provider answers: new tokens are stored', async (t) => {
    t.equal((await me(instance, cookie)).res.status, 200);
    const row = (await sessionsRepo.get(sessionHash))!;
    t.not(row.tokens.accessToken, original.tokens.accessToken, 'a new access token');
    t.ok(row.tokens.accessTokenExpiresAt > soon + 30 * 60_000, 'valid for a fresh hour');
    t.equal(row.tokens.refreshToken, original.tokens.refreshToken, 'the refresh token is kept');
    t.equal(row.refreshClaimedAt, undefined, 'the refresh claim is released');
    const verified = await instance.services.identity.verifier.verifyAccessToken(row.tokens.accessToken);
    t.equal(verified.sub, original.userId);
  });
});

t.test('the sign-in service being away is a 503, not a crash', async (t) => {
  const other = await startInstance(t, stack, { REDIS_URL: '', OIDC_ISSUER: `http://127.0.0.1:${await freePort()}` });
  const res = await fetch(`${other.baseUrl}/login`, { redirect: 'manual', headers: { accept: JSON_ACCEPT } });
  const body = (await res.json()) as JsonBody;
  assertJsonError(t, res, body, 503, 'unavailable');
  t.equal(res.headers.getSetCookie().length, 0, 'no login cookie');
});

t.test('signing out without a session still clears and redirects', async (t) => {
  const res = await fetch(`${instance.baseUrl}/logout`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: `huddle_session=${newSessionId()}`, origin: instance.baseUrl },
  });
  t.equal(res.status, 303);
  t.match(res.headers.get('location'), `${stack.issuer}/logout?`);
  t.ok(res.headers.getSetCookie().some((c) => c.startsWith('huddle_session=;')));
});

t.test('behind https the cookies are __Host- prefixed and Secure', async (t) => {
  const secure = await startInstance(t, stack, { REDIS_URL: '', PUBLIC_URL: 'https://huddle.example' });
  const res = await fetch(`${secure.baseUrl}/login`, { redirect: 'manual' });
  t.equal(res.status, 302);
  t.equal(
    new URL(res.headers.get('location')!).searchParams.get('redirect_uri'),
    'https://huddle.example/authorize',
    'from the configured origin, not the Host header',
  );
  const loginCookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-huddle_login='));
  t.ok(loginCookie, '__Host- prefixed');
  t.match(loginCookie, /; Secure/i);
  t.match(loginCookie, /Path=\//);
  t.notMatch(loginCookie, /Domain=/i);
});
