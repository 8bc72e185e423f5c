/**
 * Session rules with a fixed clock: validity, the once-a-minute touch, and token
 * refresh (one refresher across concurrent requests, failures that keep the
 * session). The repository is an in-memory implementation of our own port.
 */
import t from 'tap';
import {
  TOKEN_REFRESH_MARGIN_MS,
  TOKEN_REFRESH_RETRY_MS,
  TOUCH_INTERVAL_MS,
  createSessionService,
  hashSessionId,
  looksLikeSessionId,
  newSessionId,
  sessionStatus,
  shouldRefreshTokens,
  shouldTouch,
} from '../../src/domain/sessions/session-service.js';
import type { SessionRecord, SessionsRepository, SessionTokens, TokenRefresher } from '../../src/domain/sessions/ports.js';
import type { User } from '../../src/model/index.js';

const NOW = Date.UTC(2026, 10, 22, 12);
const HOUR = 3_600_000;
const policy = { idleTimeoutS: 3 * 24 * 3600, absoluteTimeoutS: 30 * 24 * 3600 };

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const expiresAt = NOW + 10 * HOUR;
  return {
    sessionHash: 'h',
    userId: 'u1',
    tokens: { accessToken: 'at', refreshToken: 'rt', idToken: 'it', accessTokenExpiresAt: NOW + HOUR },
    createdAt: NOW - HOUR,
    lastSeenAt: NOW - 1000,
    expiresAt,
    ttl: Math.ceil(expiresAt / 1000),
    ...overrides,
  };
}

t.test('sessionStatus', async (t) => {
  t.equal(sessionStatus(record(), NOW, policy), 'valid');
  t.equal(sessionStatus(record({ expiresAt: NOW }), NOW, policy), 'expired', 'the absolute expiry is exclusive');
  t.equal(
    sessionStatus(record({ ttl: NOW / 1000 }), NOW, policy),
    'expired',
    'a row past its ttl is dead even if DynamoDB still returns it',
  );
  t.equal(sessionStatus(record({ lastSeenAt: NOW - policy.idleTimeoutS * 1000 }), NOW, policy), 'idle');
  t.equal(sessionStatus(record({ lastSeenAt: NOW - policy.idleTimeoutS * 1000 + 1 }), NOW, policy), 'valid');
});

t.test('shouldTouch: at most once per interval', async (t) => {
  t.equal(shouldTouch(record({ lastSeenAt: NOW - TOUCH_INTERVAL_MS }), NOW), false);
  t.equal(shouldTouch(record({ lastSeenAt: NOW - TOUCH_INTERVAL_MS - 1 }), NOW), true);
});

t.test('shouldRefreshTokens', async (t) => {
  const expiring = { accessToken: 'at', refreshToken: 'rt', accessTokenExpiresAt: NOW + TOKEN_REFRESH_MARGIN_MS };
  t.equal(shouldRefreshTokens(record(), NOW), false, 'an hour left: no');
  t.equal(shouldRefreshTokens(record({ tokens: expiring }), NOW), true, 'within the margin: yes');
  t.equal(shouldRefreshTokens(record({ tokens: { ...expiring, accessTokenExpiresAt: NOW - HOUR } }), NOW), true, 'already expired: yes');
  t.equal(shouldRefreshTokens(record({ tokens: { ...expiring, refreshToken: undefined } }), NOW), false, 'no refresh token: no');
  t.equal(shouldRefreshTokens(record({ tokens: expiring, refreshClaimedAt: NOW - 1000 }), NOW), false, 'another request is on it');
  t.equal(
    shouldRefreshTokens(record({ tokens: expiring, refreshClaimedAt: NOW - TOKEN_REFRESH_RETRY_MS - 1 }), NOW),
    true,
    'an old claim is stale',
  );
});

t.test('session ids', async (t) => {
  const id = newSessionId();
  t.ok(looksLikeSessionId(id), '43 base64url characters');
  t.not(newSessionId(), id);
  t.equal(hashSessionId(id), hashSessionId(id));
  t.not(hashSessionId(id), id);
  t.notOk(looksLikeSessionId(`${id}x`));
  t.notOk(looksLikeSessionId(''));
  t.notOk(looksLikeSessionId('a'.repeat(42) + '='));
});

/** UserSessions in memory, with the same conditional semantics as the DynamoDB one. */
function memorySessions() {
  const rows = new Map<string, SessionRecord>();
  const counts = { get: 0, touch: 0 };
  const repo: SessionsRepository = {
    async create(r) {
      if (rows.has(r.sessionHash)) throw new Error('exists');
      rows.set(r.sessionHash, structuredClone(r));
    },
    async get(hash) {
      counts.get++;
      const r = rows.get(hash);
      return r && structuredClone(r);
    },
    async touch(hash, now, before) {
      const r = rows.get(hash);
      if (!r || r.lastSeenAt >= before) return false;
      counts.touch++;
      r.lastSeenAt = now;
      return true;
    },
    async claimTokenRefresh(hash, now, staleBefore) {
      const r = rows.get(hash);
      if (!r || (r.refreshClaimedAt !== undefined && r.refreshClaimedAt >= staleBefore)) return false;
      r.refreshClaimedAt = now;
      return true;
    },
    async saveRefreshedTokens(hash, tokens) {
      const r = rows.get(hash);
      if (!r) return false;
      r.tokens = { ...tokens };
      delete r.refreshClaimedAt;
      return true;
    },
    async delete(hash) {
      const r = rows.get(hash);
      rows.delete(hash);
      return r;
    },
  };
  return { repo, rows, counts };
}

function harness(options: { refreshTokens?: TokenRefresher } = {}) {
  const clock = { now: NOW };
  const store = memorySessions();
  const warnings: { obj: object; msg: string }[] = [];
  const users = new Map<string, User>([['u1', { userId: 'u1', username: 'alice', email: 'alice@x', tier: 'free', createdAt: NOW }]]);
  const service = createSessionService({
    sessions: store.repo,
    users: { getById: async (id) => users.get(id) },
    policy,
    refreshTokens: options.refreshTokens,
    log: { warn: (obj, msg) => warnings.push({ obj, msg: msg ?? '' }) },
    clock: () => clock.now,
  });
  return { clock, store, warnings, users, service };
}

const tokens = (accessTokenExpiresAt: number, refreshToken: string | undefined = 'rt-1'): SessionTokens => ({
  accessToken: 'at-1',
  idToken: 'id-1',
  refreshToken,
  accessTokenExpiresAt,
});

t.test('start writes a row under the hash and returns the raw id', async (t) => {
  const { service, store } = harness();
  const { sessionId, record: r } = await service.start({ userId: 'u1', tokens: tokens(NOW + HOUR) });
  t.ok(looksLikeSessionId(sessionId));
  t.same([...store.rows.keys()], [hashSessionId(sessionId)]);
  t.equal(r.createdAt, NOW);
  t.equal(r.lastSeenAt, NOW);
  t.equal(r.expiresAt, NOW + policy.absoluteTimeoutS * 1000);
  t.equal(r.ttl, Math.ceil(r.expiresAt / 1000));
});

t.test('authenticate: valid, idle, expired, unknown, malformed, user gone', async (t) => {
  const { service, store, clock, users } = harness();
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + 10 * HOUR) });
  t.same(await service.authenticate(sessionId), {
    userId: 'u1',
    username: 'alice',
    email: 'alice@x',
    tier: 'free',
    sessionHash: hashSessionId(sessionId),
    sessionExpiresAt: NOW + policy.absoluteTimeoutS * 1000,
  });

  const reads = store.counts.get;
  t.equal(await service.authenticate('not a session id'), undefined);
  t.equal(await service.authenticate(undefined), undefined);
  t.equal(store.counts.get, reads, 'malformed ids cost no read');
  t.equal(await service.authenticate(newSessionId()), undefined, 'unknown id');

  clock.now = NOW + policy.idleTimeoutS * 1000 - 1;
  t.ok(await service.authenticate(sessionId), 'used just before the idle timeout');
  clock.now += policy.idleTimeoutS * 1000;
  t.equal(await service.authenticate(sessionId), undefined, 'idle too long');
  t.equal(await service.validate(hashSessionId(sessionId)), false);

  const fresh = await service.start({ userId: 'u1', tokens: tokens(clock.now + 10 * HOUR) });
  users.delete('u1');
  t.equal(await service.authenticate(fresh.sessionId), undefined, 'the user no longer exists');
});

t.test('activity keeps a session alive until the absolute expiry, not beyond', async (t) => {
  const { service, clock } = harness();
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + 1000 * HOUR, undefined) });
  const end = NOW + policy.absoluteTimeoutS * 1000;
  for (clock.now = NOW; clock.now < end; clock.now += 24 * HOUR) {
    t.ok(await service.authenticate(sessionId), `alive on day ${(clock.now - NOW) / (24 * HOUR)}`);
  }
  clock.now = end;
  t.equal(await service.authenticate(sessionId), undefined, 'over at the absolute expiry');
});

t.test('lastSeenAt is written at most once a minute', async (t) => {
  const { service, store, clock } = harness();
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + 10 * HOUR) });
  for (let s = 0; s <= 60; s += 5) {
    clock.now = NOW + s * 1000;
    await service.authenticate(sessionId);
  }
  t.equal(store.counts.touch, 0, 'no write within the first minute');
  clock.now = NOW + TOUCH_INTERVAL_MS + 1;
  await service.authenticate(sessionId);
  await service.authenticate(sessionId);
  t.equal(store.counts.touch, 1);
  t.equal(store.rows.get(hashSessionId(sessionId))!.lastSeenAt, NOW + TOUCH_INTERVAL_MS + 1);
});

t.test('tokens near expiry: one refresh for concurrent requests, old refresh token kept', async (t) => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { service, store } = harness({
    refreshTokens: async (refreshToken) => {
      calls++;
      t.equal(refreshToken, 'rt-1');
      await gate;
      return { accessToken: 'at-2', idToken: 'id-2', accessTokenExpiresAt: NOW + 2 * HOUR };
    },
  });
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + 60_000) });
  const requests = [service.authenticate(sessionId), service.authenticate(sessionId), service.authenticate(sessionId)];
  await new Promise((r) => setImmediate(r));
  release();
  const users = await Promise.all(requests);
  t.ok(users.every(Boolean), 'every request is served');
  t.equal(calls, 1, 'one refresh');
  const row = store.rows.get(hashSessionId(sessionId))!;
  t.same(row.tokens, { accessToken: 'at-2', idToken: 'id-2', refreshToken: 'rt-1', accessTokenExpiresAt: NOW + 2 * HOUR });
  t.equal(row.refreshClaimedAt, undefined);
});

t.test('a failed refresh keeps the session, logs no token, and is retried later', async (t) => {
  let fail = true;
  let calls = 0;
  const { service, store, clock, warnings } = harness({
    refreshTokens: async () => {
      calls++;
      if (fail) throw Object.assign(new Error('invalid_grant: rt-1 is not valid'), { error: 'invalid_grant' });
      return { accessToken: 'at-2', refreshToken: 'rt-2', accessTokenExpiresAt: clock.now + HOUR };
    },
  });
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + 60_000) });
  t.ok(await service.authenticate(sessionId), 'served although the refresh failed');
  t.equal(warnings.length, 1);
  t.notMatch(JSON.stringify(warnings), /rt-1|at-1|id-1/, 'no token in the log');
  t.ok(await service.authenticate(sessionId));
  t.equal(calls, 1, 'not retried at once');

  fail = false;
  clock.now = NOW + TOKEN_REFRESH_RETRY_MS + 1;
  t.ok(await service.authenticate(sessionId));
  t.equal(calls, 2, 'retried after the retry interval');
  t.equal(store.rows.get(hashSessionId(sessionId))!.tokens.refreshToken, 'rt-2', 'a rotated refresh token replaces the old one');
});

t.test('end deletes the row and hands back its tokens', async (t) => {
  const { service, store } = harness();
  const { sessionId } = await service.start({ userId: 'u1', tokens: tokens(NOW + HOUR) });
  const ended = await service.end(sessionId);
  t.equal(ended?.tokens.refreshToken, 'rt-1');
  t.equal(store.rows.size, 0);
  t.equal(await service.end(sessionId), undefined, 'a second sign-out finds nothing');
  t.equal(await service.end('garbage'), undefined);
});
