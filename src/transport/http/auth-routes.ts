/**
 * Sign-in through the hosted UI (authorization code + PKCE), sign-out, and `/api/me`.
 *
 *   GET  /login      → 302 to the hosted UI; PKCE verifier, state, nonce and `next`
 *                      ride in a signed, httpOnly, 10-minute login cookie
 *   GET  /authorize  ← the provider's callback: code exchange, token verification,
 *                      user upsert, session row, session cookie, 302 to `next`
 *   POST /logout     → session row deleted, refresh token revoked (best effort),
 *                      cookie cleared, 303 to the hosted UI's logout
 *   GET  /api/me     → the signed-in user, or 401
 *
 * Every failure answers 4xx (5xx only when the provider is unreachable) and writes
 * nothing; codes, tokens and cookies never reach a log line.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { sendAuthError, type AuthErrorCode } from './auth-replies.js';
import { buildMeBody } from './me-body.js';
import { SignInError } from '../../adapters/identity/oidc-client.js';
import {
  LOGIN_COOKIE_MAX_AGE_S,
  cookieAttributes,
  decodeLoginAttempt,
  encodeLoginAttempt,
  loginCookieName,
  safeReturnPath,
  sessionCookieName,
  type LoginAttempt,
} from './session-cookie.js';
import { TokenVerificationError } from '../../adapters/identity/token-verifier.js';

const sameString = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const messages = {
  cancelled: 'Sign-in was cancelled. You can sign in again whenever you like.',
  providerRefused: 'The sign-in service did not sign you in. Try again.',
  noAttempt: 'This sign-in attempt has expired or was started in another browser. Start again.',
  stateMismatch: 'This sign-in response does not belong to the sign-in you started. Start again.',
  missingCode: 'The sign-in response has no authorization code. Start again.',
  invalidCode: 'The sign-in code is invalid, expired or already used. Start again.',
  invalidResponse: 'The sign-in service sent an answer that failed its checks. Start again.',
  unverified: 'The sign-in could not be verified. Start again.',
  unavailable: 'The sign-in service cannot be reached right now. Try again in a moment.',
  crossOrigin: 'Sign out from the huddle page itself.',
};

const authRoutes: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  const { client, verifier, cookies } = app.identity;
  const loginCookie = loginCookieName(cookies);
  const sessionCookie = sessionCookieName(cookies);

  /** Logs why (a fixed reason, never the request's values) and answers. */
  function reject(request: FastifyRequest, reply: FastifyReply, status: number, code: AuthErrorCode, reason: string, message: string) {
    request.log.info({ reason, status }, 'sign-in rejected');
    return sendAuthError(request, reply, status, code, message);
  }

  app.get<{ Querystring: { next?: string } }>(
    '/login',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { next: { type: 'string', maxLength: 2048 } },
        },
      },
    },
    async (request, reply) => {
      let authorization;
      try {
        authorization = await client.authorizationRequest();
      } catch (err) {
        request.log.warn({ reason: err instanceof SignInError ? err.summary : 'unknown' }, 'sign-in provider unreachable');
        return sendAuthError(request, reply, 503, 'unavailable', messages.unavailable);
      }
      const attempt: LoginAttempt = {
        codeVerifier: authorization.codeVerifier,
        state: authorization.state,
        nonce: authorization.nonce,
        next: safeReturnPath(request.query.next, config.http.publicOrigin),
        expiresAt: Date.now() + LOGIN_COOKIE_MAX_AGE_S * 1000,
      };
      reply.setCookie(loginCookie, encodeLoginAttempt(attempt), { ...cookieAttributes(cookies, LOGIN_COOKIE_MAX_AGE_S), signed: true });
      return reply.header('cache-control', 'no-store').redirect(authorization.url, 302);
    },
  );

  app.get('/authorize', async (request, reply) => {
    // The raw query goes to openid-client as the provider sent it (it checks `iss` too).
    const query = new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1 || request.url.length));
    const rawLoginCookie = request.cookies[loginCookie];
    // One attempt, one callback: whatever happens next, the login cookie is spent.
    if (rawLoginCookie !== undefined) reply.clearCookie(loginCookie, cookieAttributes(cookies));

    const providerError = query.get('error');
    if (providerError !== null) {
      const cancelled = providerError === 'access_denied';
      return reject(request, reply, 400, 'invalid', cancelled ? 'provider_access_denied' : 'provider_error', cancelled ? messages.cancelled : messages.providerRefused);
    }
    const unsigned = rawLoginCookie === undefined ? undefined : request.unsignCookie(rawLoginCookie);
    const attempt = unsigned?.valid && unsigned.value ? decodeLoginAttempt(unsigned.value, Date.now()) : undefined;
    if (!attempt) {
      const reason = rawLoginCookie === undefined ? 'login_cookie_missing' : unsigned?.valid ? 'login_cookie_expired' : 'login_cookie_forged';
      return reject(request, reply, 400, 'invalid', reason, messages.noAttempt);
    }
    const state = query.get('state');
    if (!state || !sameString(state, attempt.state)) {
      return reject(request, reply, 400, 'invalid', state ? 'state_mismatch' : 'state_missing', messages.stateMismatch);
    }
    if (!query.get('code')) return reject(request, reply, 400, 'invalid', 'code_missing', messages.missingCode);

    let tokens;
    try {
      tokens = await client.exchangeCode(query, attempt);
    } catch (err) {
      if (!(err instanceof SignInError)) throw err;
      request.log.warn({ cause: err.summary }, 'code exchange failed');
      if (err.reason === 'provider_unavailable') return reject(request, reply, 503, 'unavailable', err.reason, messages.unavailable);
      return reject(request, reply, 400, 'invalid', err.reason, err.reason === 'invalid_code' ? messages.invalidCode : messages.invalidResponse);
    }

    let identity;
    let access;
    try {
      if (!tokens.idToken) throw new TokenVerificationError('invalid', 'MissingIdToken');
      identity = await verifier.verifyIdToken(tokens.idToken);
      access = await verifier.verifyAccessToken(tokens.accessToken);
      if (access.sub !== identity.sub) throw new TokenVerificationError('invalid', 'SubjectMismatch');
    } catch (err) {
      if (!(err instanceof TokenVerificationError)) throw err;
      request.log.warn({ cause: err.summary }, 'token verification failed');
      if (err.reason === 'unavailable') return reject(request, reply, 503, 'unavailable', 'jwks_unavailable', messages.unavailable);
      return reject(request, reply, 401, 'unauthorized', `token_${err.reason}`, messages.unverified);
    }

    // Both rows go out at once: the session is keyed by the provider's subject, which is the user id.
    const [user, { sessionId }] = await Promise.all([
      app.store.users.upsertOnSignIn(
        {
          userId: identity.sub,
          username: identity.username,
          email: identity.email,
          // Membership makes a user premium; its absence leaves a tier an operator set alone.
          premium: identity.groups.includes(config.identity.premiumGroup) ? true : undefined,
        },
        Date.now(),
      ),
      app.sessions.start({
        userId: identity.sub,
        tokens: {
          idToken: tokens.idToken,
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          accessTokenExpiresAt: access.expiresAt,
        },
      }),
    ]);
    reply.setCookie(sessionCookie, sessionId, cookieAttributes(cookies, config.session.absoluteTimeoutS));
    request.log.info({ userId: user.userId, tier: user.tier }, 'signed in');
    return reply.header('cache-control', 'no-store').redirect(attempt.next, 302);
  });

  // A sign-out form posts urlencoded; its body carries nothing we need.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, _body, done) => done(null, {}));

  app.post('/logout', async (request, reply) => {
    // SameSite=Lax already keeps the cookie off cross-site posts; a foreign Origin is refused outright.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== config.http.publicOrigin) {
      return reject(request, reply, 403, 'forbidden', 'logout_cross_origin', messages.crossOrigin);
    }
    const ended = await app.sessions.end(request.cookies[sessionCookie]);
    if (ended?.tokens.refreshToken) {
      try {
        await client.revoke(ended.tokens.refreshToken);
      } catch (err) {
        request.log.warn({ userId: ended.userId, cause: err instanceof SignInError ? err.summary : 'unknown' }, 'refresh token revocation failed');
      }
    }
    if (ended) request.log.info({ userId: ended.userId }, 'signed out');
    reply.clearCookie(sessionCookie, cookieAttributes(cookies));
    return reply.header('cache-control', 'no-store').redirect(client.logoutUrl(), 303);
  });

  app.get('/api/me', { preValidation: app.requireUser }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    return buildMeBody(app, request.user!);
  });
};

export default authRoutes;
