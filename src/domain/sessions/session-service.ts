/**
 * Sessions: what a signed-in browser holds. The cookie carries a 256-bit random id;
 * the UserSessions row is keyed by its SHA-256, so a leaked table does not leak
 * usable cookies. A session is valid only while its row exists, its absolute expiry
 * and `ttl` are in the future (DynamoDB deletes TTL rows days late) and it was used
 * within the idle timeout.
 *
 * Storage comes in as a `SessionsRepository`, token refresh as a function.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Tier } from '../../model/index.js';
import type { Logger } from '../logger.js';
import type { UsersRepository } from '../users/ports.js';
import type { SessionRecord, SessionsRepository, SessionTokens, TokenRefresher } from './ports.js';

/** Who `request.user` is once the session cookie checked out. */
export interface AuthenticatedUser {
  userId: string;
  username: string;
  email?: string | undefined;
  tier: Tier;
  /** Key of the session row: what the WebSocket gateway re-validates. */
  sessionHash: string;
  /** Epoch ms at which the session ends however it is used (its absolute timeout). */
  sessionExpiresAt: number;
}

export interface SessionPolicy {
  idleTimeoutS: number;
  absoluteTimeoutS: number;
}

/** `last_seen_at` is written at most this often per session (a conditional update). */
export const TOUCH_INTERVAL_MS = 60_000;
/** Tokens are refreshed when the access token has less than this left. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** A failed or abandoned refresh is tried again after this long. */
export const TOKEN_REFRESH_RETRY_MS = 60_000;

const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type SessionStatus = 'valid' | 'expired' | 'idle';

export function sessionStatus(record: SessionRecord, now: number, policy: Pick<SessionPolicy, 'idleTimeoutS'>): SessionStatus {
  if (record.expiresAt <= now || record.ttl * 1000 <= now) return 'expired';
  if (record.lastSeenAt + policy.idleTimeoutS * 1000 <= now) return 'idle';
  return 'valid';
}

export const shouldTouch = (record: SessionRecord, now: number) => record.lastSeenAt < now - TOUCH_INTERVAL_MS;

export function shouldRefreshTokens(record: SessionRecord, now: number): boolean {
  if (!record.tokens.refreshToken) return false;
  if (record.tokens.accessTokenExpiresAt - now > TOKEN_REFRESH_MARGIN_MS) return false;
  return record.refreshClaimedAt === undefined || record.refreshClaimedAt < now - TOKEN_REFRESH_RETRY_MS;
}

/** A new cookie value: 256 random bits, base64url (43 characters). */
export const newSessionId = () => randomBytes(32).toString('base64url');

export const hashSessionId = (sessionId: string) => createHash('sha256').update(sessionId).digest('base64url');

/** Cheap rejection of cookie values that cannot be session ids, before any read. */
export const looksLikeSessionId = (value: string) => SESSION_ID_PATTERN.test(value);

export interface SessionServiceDeps {
  sessions: SessionsRepository;
  users: Pick<UsersRepository, 'getById'>;
  policy: SessionPolicy;
  refreshTokens?: TokenRefresher | undefined;
  log: Pick<Logger, 'warn'>;
  /** Epoch ms. */
  clock?: () => number;
}

export type SessionService = ReturnType<typeof createSessionService>;

export function createSessionService(deps: SessionServiceDeps) {
  const { sessions, users, policy, log } = deps;
  const clock = deps.clock ?? Date.now;

  /** Best effort: a provider that is down must not sign anyone out or fail a request. */
  async function refreshTokensOf(record: SessionRecord): Promise<boolean> {
    const refreshToken = record.tokens.refreshToken;
    if (!deps.refreshTokens || !refreshToken) return false;
    const now = clock();
    if (!(await sessions.claimTokenRefresh(record.sessionHash, now, now - TOKEN_REFRESH_RETRY_MS))) return false;
    try {
      const fresh = await deps.refreshTokens(refreshToken);
      // Cognito returns no new refresh token unless rotation is on: keep the one we have.
      return await sessions.saveRefreshedTokens(record.sessionHash, { ...fresh, refreshToken: fresh.refreshToken ?? refreshToken });
    } catch (err) {
      log.warn({ userId: record.userId, reason: errorSummary(err) }, 'token refresh failed; keeping the session and trying again later');
      return false;
    }
  }

  return {
    /** Opens a session for a user who just signed in; the returned id goes into the cookie. */
    async start(input: { userId: string; tokens: SessionTokens }): Promise<{ sessionId: string; record: SessionRecord }> {
      const now = clock();
      const sessionId = newSessionId();
      const expiresAt = now + policy.absoluteTimeoutS * 1000;
      const record: SessionRecord = {
        sessionHash: hashSessionId(sessionId),
        userId: input.userId,
        tokens: input.tokens,
        createdAt: now,
        lastSeenAt: now,
        expiresAt,
        ttl: Math.ceil(expiresAt / 1000),
      };
      await sessions.create(record);
      return { sessionId, record };
    },

    /**
     * The signed-in user behind a cookie value, or undefined for a missing, forged,
     * expired or idle session (or a user that no longer exists). Keeps `lastSeenAt`
     * and the provider tokens fresh on the way.
     */
    async authenticate(sessionId: string | undefined): Promise<AuthenticatedUser | undefined> {
      if (!sessionId || !looksLikeSessionId(sessionId)) return undefined;
      const sessionHash = hashSessionId(sessionId);
      const record = await sessions.get(sessionHash);
      const now = clock();
      if (!record || sessionStatus(record, now, policy) !== 'valid') return undefined;
      const user = await users.getById(record.userId);
      if (!user) return undefined;
      if (shouldTouch(record, now)) await sessions.touch(sessionHash, now, now - TOUCH_INTERVAL_MS);
      if (shouldRefreshTokens(record, now)) await refreshTokensOf(record);
      return {
        userId: user.userId,
        username: user.username,
        email: user.email,
        tier: user.tier,
        sessionHash,
        sessionExpiresAt: Math.min(record.expiresAt, record.ttl * 1000),
      };
    },

    /** Still valid? For long-lived connections that authenticated once, at upgrade. */
    async validate(sessionHash: string): Promise<boolean> {
      const record = await sessions.get(sessionHash);
      return record !== undefined && sessionStatus(record, clock(), policy) === 'valid';
    },

    /** Ends a session; returns what it held so the caller can revoke its tokens. */
    async end(sessionId: string | undefined): Promise<SessionRecord | undefined> {
      if (!sessionId || !looksLikeSessionId(sessionId)) return undefined;
      return sessions.delete(hashSessionId(sessionId));
    },

    refreshTokensOf,
  };
}

/** An error's class and code, never its message: provider errors can quote what they were sent. */
export function errorSummary(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; error?: unknown }).error ?? (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${err.name}: ${code}` : err.name;
  }
  return typeof err;
}
