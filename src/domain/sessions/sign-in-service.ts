/**
 * Signing in and out through the identity provider: the code exchange, both
 * tokens verified (and for the same subject), the user row and the session row
 * written together; sign-out ends the session and revokes its refresh token.
 * Failures throw `SignInError` (the provider) or `TokenVerificationError` (its
 * tokens) and write nothing; the HTTP routes turn them into pages or JSON.
 */
import { stripUnsafeCharacters } from '../../shared/text.js';
import type { User } from '../../model/index.js';
import type { EventPublisher } from '../events/ports.js';
import type { Logger } from '../logger.js';
import type { UsersRepository } from '../users/ports.js';
import { errorSummary, type SessionService } from './session-service.js';
import {
  SignInError,
  TokenVerificationError,
  type AuthorizationRequest,
  type IdentityProvider,
  type SessionRecord,
  type TokenVerifier,
} from './ports.js';

export interface SignInServiceDeps {
  provider: IdentityProvider;
  verifier: TokenVerifier;
  users: Pick<UsersRepository, 'upsertOnSignIn'>;
  sessions: Pick<SessionService, 'start' | 'end'>;
  /** Tells every instance that a session ended, so its open sockets close at once. */
  events: EventPublisher;
  /** Members of this provider group become premium at sign-in. */
  premiumGroup: string;
  log: Pick<Logger, 'warn'>;
  /** Epoch ms. @default Date.now */
  clock?: () => number;
}

export interface SignedIn {
  /** Goes into the session cookie; only its hash is stored. */
  sessionId: string;
  user: User;
}

export type SignInService = ReturnType<typeof createSignInService>;

export function createSignInService(deps: SignInServiceDeps) {
  const { provider, verifier, users, sessions } = deps;
  const clock = deps.clock ?? Date.now;

  return {
    begin(): Promise<AuthorizationRequest> {
      return provider.authorizationRequest();
    },

    async complete(callbackQuery: URLSearchParams, checks: { codeVerifier: string; state: string; nonce: string }): Promise<SignedIn> {
      const tokens = await provider.exchangeCode(callbackQuery, checks);
      if (!tokens.idToken) throw new TokenVerificationError('invalid', 'MissingIdToken');
      const identity = await verifier.verifyIdToken(tokens.idToken);
      const access = await verifier.verifyAccessToken(tokens.accessToken);
      if (access.sub !== identity.sub) throw new TokenVerificationError('invalid', 'SubjectMismatch');
      // Both rows go out at once: the session is keyed by the provider's subject, which is the user id.
      const [user, { sessionId }] = await Promise.all([
        users.upsertOnSignIn(
          {
            userId: identity.sub,
            // Shown to others: nothing invisible or direction-changing survives from the provider.
            username: stripUnsafeCharacters(identity.username),
            email: identity.email,
            // Membership makes a user premium; its absence leaves a tier an operator set alone.
            premium: identity.groups.includes(deps.premiumGroup) ? true : undefined,
          },
          clock(),
        ),
        sessions.start({
          userId: identity.sub,
          tokens: {
            idToken: tokens.idToken,
            accessToken: tokens.accessToken,
            refreshToken: tokens.refreshToken,
            accessTokenExpiresAt: access.expiresAt,
          },
        }),
      ]);
      return { sessionId, user };
    },

    /**
     * Ends the session behind a cookie value, closes its sockets on every instance
     * and revokes its refresh token (best effort); returns what it held. The sockets'
     * close is published before this resolves, so the sign-out page never comes back
     * while a socket of the session still works anywhere the bus reaches.
     */
    async signOut(sessionId: string | undefined): Promise<SessionRecord | undefined> {
      const ended = await sessions.end(sessionId);
      if (!ended) return undefined;
      try {
        await deps.events.publish({ type: 'session.ended', userId: ended.userId, sessionHash: ended.sessionHash });
      } catch (err) {
        // The row is gone: the periodic session check closes the sockets the bus could not reach.
        deps.log.warn({ userId: ended.userId, cause: errorSummary(err) }, 'could not announce a sign-out to other instances');
      }
      if (ended.tokens.refreshToken) {
        try {
          await provider.revoke(ended.tokens.refreshToken);
        } catch (err) {
          deps.log.warn(
            { userId: ended.userId, cause: err instanceof SignInError ? err.summary : errorSummary(err) },
            'refresh token revocation failed',
          );
        }
      }
      return ended;
    },

    logoutUrl(): string {
      return provider.logoutUrl();
    },
  };
}
