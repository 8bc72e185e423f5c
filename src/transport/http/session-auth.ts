/**
 * Sign-in plumbing shared app-wide: cookies (signed with SESSION_SECRET, for the
 * login attempt), `request.user`, and `app.requireUser`, the `preValidation` hook
 * every signed-in route and the WebSocket upgrade use.
 */
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { unauthorized } from '../../model/index.js';
import type { AuthenticatedUser, SessionService } from '../../domain/sessions/session-service.js';
import { sendSignInError } from './error-handler.js';
import { cookieAttributes, sessionCookieName, type CookieSettings } from './session-cookie.js';

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
  }
}

export interface SessionAuthOptions {
  sessions: Pick<SessionService, 'authenticate'>;
  /** Signs the login cookie. */
  secret: string;
  cookies: CookieSettings;
}

export default fp<SessionAuthOptions>(
  async (app, { sessions, secret, cookies }) => {
    await app.register(cookie, { secret, hook: 'onRequest' });
    const cookieName = sessionCookieName(cookies);

    app.decorateRequest('user', null);
    app.decorate('requireUser', async function requireUser(request: FastifyRequest, reply: FastifyReply) {
      const sessionId = request.cookies[cookieName];
      // An address that keeps presenting dead cookies stops costing session reads.
      if (sessionId !== undefined && (await app.authenticationBudget.refuseIfExhausted(request, reply))) return reply;
      const user = await sessions.authenticate(sessionId);
      if (user) {
        request.user = user;
        return undefined;
      }
      if (sessionId !== undefined) await app.authenticationBudget.countFailure(request);
      // A cookie that no longer opens a session is dropped, so the page stops sending it.
      if (sessionId !== undefined) reply.clearCookie(cookieName, cookieAttributes(cookies));
      return sendSignInError(request, reply, unauthorized());
    });
  },
  { name: 'session-auth', dependencies: ['rate-limit'] },
);
