import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { sendAuthError } from './auth-replies.js';
import { createOidcClient, oidcSettingsFrom, type OidcClient } from '../../adapters/identity/oidc-client.js';
import { cookieAttributes, sessionCookieName, type CookieSettings } from './session-cookie.js';
import { createSessionService, type AuthenticatedUser, type SessionService } from '../../domain/sessions/session-service.js';
import { createTokenVerifier, verifierSettingsFrom, type TokenVerifier } from '../../adapters/identity/token-verifier.js';
import { createSessionsRepository } from '../../adapters/dynamodb/sessions-repository.js';

export interface Identity {
  client: OidcClient;
  verifier: TokenVerifier;
  cookies: CookieSettings;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `app.requireUser`; null on routes that do not ask for a user. */
    user: AuthenticatedUser | null;
  }
  interface FastifyInstance {
    /**
     * `preValidation` handler: loads the session from its cookie and sets
     * `request.user`, or answers 401 (on a WebSocket route: no upgrade happens).
     */
    requireUser: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
    /** Sessions; `validate(sessionHash)` tells a long-lived socket whether its session still stands. */
    sessions: SessionService;
    /** The identity provider's client and token verifier, for the sign-in routes. */
    identity: Identity;
  }
}

/**
 * Sign-in plumbing shared app-wide: cookies (signed with SESSION_SECRET), the
 * session service on UserSessions, the OpenID client and token verifier, and the
 * `requireUser` hook.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts;
    if (!config.session.secret) throw new Error('SESSION_SECRET is not set: it signs the login cookie');
    await app.register(cookie, { secret: config.session.secret, hook: 'onRequest' });

    const client = createOidcClient(oidcSettingsFrom(config));
    const verifier = createTokenVerifier(verifierSettingsFrom(config));
    const cookies: CookieSettings = { secure: config.http.secureCookies };
    const cookieName = sessionCookieName(cookies);

    const sessions = createSessionService({
      sessions: createSessionsRepository(app.store.doc, app.store.tables.sessions),
      users: app.store.users,
      policy: { idleTimeoutS: config.session.idleTimeoutS, absoluteTimeoutS: config.session.absoluteTimeoutS },
      log: app.log,
      async refreshTokens(refreshToken) {
        const fresh = await client.refresh(refreshToken);
        const access = await verifier.verifyAccessToken(fresh.accessToken);
        if (fresh.idToken) await verifier.verifyIdToken(fresh.idToken);
        return { ...fresh, accessTokenExpiresAt: access.expiresAt };
      },
    });

    app.decorateRequest('user', null);
    app.decorate('sessions', sessions);
    app.decorate('identity', { client, verifier, cookies });
    app.decorate('requireUser', async function requireUser(request: FastifyRequest, reply: FastifyReply) {
      const sessionId = request.cookies[cookieName];
      const user = await sessions.authenticate(sessionId);
      if (user) {
        request.user = user;
        return undefined;
      }
      // A cookie that no longer opens a session is dropped, so the page stops sending it.
      if (sessionId !== undefined) reply.clearCookie(cookieName, cookieAttributes(cookies));
      return sendAuthError(request, reply, 401, 'unauthorized', 'Sign in to continue.');
    });
  },
  { name: 'auth', dependencies: ['aws'] },
);
