/**
 * Token refresh for sessions: the refresh grant, then both new tokens verified
 * exactly as at sign-in. What the session service calls when an access token is
 * about to expire.
 */
import type { TokenRefresher } from '../../domain/sessions/ports.js';
import type { OidcClient } from './oidc-client.js';
import type { TokenVerifier } from './token-verifier.js';

export function createTokenRefresher(client: Pick<OidcClient, 'refresh'>, verifier: TokenVerifier): TokenRefresher {
  return async (refreshToken) => {
    const fresh = await client.refresh(refreshToken);
    const access = await verifier.verifyAccessToken(fresh.accessToken);
    if (fresh.idToken) await verifier.verifyIdToken(fresh.idToken);
    return { ...fresh, accessTokenExpiresAt: access.expiresAt };
  };
}
