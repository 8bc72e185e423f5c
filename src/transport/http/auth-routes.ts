/**
 * Sign-in through the hosted UI (authorization code + PKCE), sign-out, and `/api/me`.
 *
 *   GET  /login      → 302 to the hosted UI; PKCE verifier, state, nonce and `next`
 *                      ride in a signed, httpOnly, 10-minute login cookie
 *   GET  /authorize  ← the provider's callback: login cookie and state checked here,
 *                      then the sign-in service exchanges the code, verifies the
 *                      tokens and writes the user and session rows; session cookie,
 *                      302 to `next`
 *   POST /logout     → session ended, refresh token revoked (best effort), cookie
 *                      cleared, 303 to the hosted UI's logout (a JSON request
 *                      gets `{ redirectTo }` instead)
 *   GET  /api/me     → the signed-in user and their usage, or 401
 *
 * Every failure answers 4xx (5xx only when the provider is unreachable) and writes
 * nothing; codes, tokens and cookies never reach a log line.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../model/index.js';
import type { QuotasService } from '../../domain/quotas/quotas-service.js';
import { SignInError, TokenVerificationError } from '../../domain/sessions/ports.js';
import type { SignInService } from '../../domain/sessions/sign-in-service.js';
import { sendSignInError } from './error-handler.js';
import {
  LOGIN_COOKIE_MAX_AGE_S,
  cookieAttributes,
  decodeLoginAttempt,
  encodeLoginAttempt,
  loginCookieName,
  safeReturnPath,
  sessionCookieName,
  type CookieSettings,
  type LoginAttempt,
} from './session-cookie.js';

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

export interface AuthRoutesOptions {
  signIn: SignInService;
  quotas: Pick<QuotasService, 'summary'>;
  cookies: CookieSettings;
  /** The origin people open; `next` paths must stay on it. */
  publicOrigin: string;
  /** Session cookie lifetime, seconds (the session's absolute timeout). */
  sessionMaxAgeS: number;
}

const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (app, options) => {
  const { signIn, quotas, cookies, publicOrigin } = options;
  const loginCookie = loginCookieName(cookies);
  const sessionCookie = sessionCookieName(cookies);

  /** Logs why (a fixed reason, never the request's values) and answers. */
  function reject(request: FastifyRequest, reply: FastifyReply, code: ErrorCode, reason: string, message: string) {
    const error = new AppError(code, message);
    request.log.info({ reason, status: error.statusCode }, 'sign-in rejected');
    return sendSignInError(request, reply, error);
  }

  app.get<{ Querystring: { next?: string } }>(
    '/login',
    { schema: { querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 2048 } } } } },
    async (request, reply) => {
      let authorization;
      try {
        authorization = await signIn.begin();
      } catch (err) {
        request.log.warn({ reason: err instanceof SignInError ? err.summary : 'unknown' }, 'sign-in provider unreachable');
        return sendSignInError(request, reply, new AppError('unavailable', messages.unavailable));
      }
      const attempt: LoginAttempt = {
        codeVerifier: authorization.codeVerifier,
        state: authorization.state,
        nonce: authorization.nonce,
        next: safeReturnPath(request.query.next, publicOrigin),
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
      return reject(
        request,
        reply,
        'invalid',
        cancelled ? 'provider_access_denied' : 'provider_error',
        cancelled ? messages.cancelled : messages.providerRefused,
      );
    }
    const unsigned = rawLoginCookie === undefined ? undefined : request.unsignCookie(rawLoginCookie);
    const attempt = unsigned?.valid && unsigned.value ? decodeLoginAttempt(unsigned.value, Date.now()) : undefined;
    if (!attempt) {
      const reason =
        rawLoginCookie === undefined ? 'login_cookie_missing' : unsigned?.valid ? 'login_cookie_expired' : 'login_cookie_forged';
      return reject(request, reply, 'invalid', reason, messages.noAttempt);
    }
    const state = query.get('state');
    if (!state || !sameString(state, attempt.state)) {
      return reject(request, reply, 'invalid', state ? 'state_mismatch' : 'state_missing', messages.stateMismatch);
    }
    if (!query.get('code')) return reject(request, reply, 'invalid', 'code_missing', messages.missingCode);

    let signedIn;
    try {
      signedIn = await signIn.complete(query, attempt);
    } catch (err) {
      if (err instanceof SignInError) {
        request.log.warn({ cause: err.summary }, 'code exchange failed');
        if (err.reason === 'provider_unavailable') return reject(request, reply, 'unavailable', err.reason, messages.unavailable);
        return reject(
          request,
          reply,
          'invalid',
          err.reason,
          err.reason === 'invalid_code' ? messages.invalidCode : messages.invalidResponse,
        );
      }
      if (err instanceof TokenVerificationError) {
        request.log.warn({ cause: err.summary }, 'token verification failed');
        if (err.reason === 'unavailable') return reject(request, reply, 'unavailable', 'jwks_unavailable', messages.unavailable);
        return reject(request, reply, 'unauthorized', `token_${err.reason}`, messages.unverified);
      }
      throw err;
    }
    reply.setCookie(sessionCookie, signedIn.sessionId, cookieAttributes(cookies, options.sessionMaxAgeS));
    request.log.info({ userId: signedIn.user.userId, tier: signedIn.user.tier }, 'signed in');
    return reply.header('cache-control', 'no-store').redirect(attempt.next, 302);
  });

  app.post('/logout', async (request, reply) => {
    // SameSite=Lax already keeps the cookie off cross-site posts; a foreign Origin is refused outright.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== publicOrigin) {
      return reject(request, reply, 'forbidden', 'logout_cross_origin', messages.crossOrigin);
    }
    const ended = await signIn.signOut(request.cookies[sessionCookie]);
    if (ended) request.log.info({ userId: ended.userId }, 'signed out');
    reply.clearCookie(sessionCookie, cookieAttributes(cookies));
    reply.header('cache-control', 'no-store');
    // The page signs out with fetch, which cannot follow a redirect to another origin: it gets the address to go to.
    if (request.headers['content-type']?.startsWith('application/json')) return { redirectTo: signIn.logoutUrl() };
    return reply.redirect(signIn.logoutUrl(), 303);
  });

  app.get('/api/me', { preValidation: app.requireUser }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const user = request.user!;
    // Usage and tier are read fresh: the tier may have changed since sign-in.
    const quota = await quotas.summary(user.userId);
    return { user: { userId: user.userId, username: user.username, email: user.email, tier: quota.tier }, quota };
  });
};

export default authRoutes;
