/**
 * Verifies the provider's ID and access tokens with aws-jwt-verify: signature
 * (JWKS), issuer, expiry, and Cognito's own fields (`token_use`, `aud` on ID tokens,
 * `client_id` on access tokens; access tokens have no `aud`). Real Cognito goes
 * through `CognitoJwtVerifier`; the local provider's http issuer needs the generic
 * `JwtVerifier` with the same Cognito checks and a fetch-based JWKS fetcher, because
 * the library's own fetcher is https-only.
 */
import { CognitoJwtVerifier, JwtVerifier } from 'aws-jwt-verify';
import { validateCognitoJwtFields } from 'aws-jwt-verify/cognito-verifier';
import { FetchError, JwtExpiredError, NonRetryableFetchError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import {
  TokenVerificationError,
  type TokenVerifier,
  type VerifiedAccessToken,
  type VerifiedIdentity,
} from '../../domain/sessions/ports.js';

export type { TokenVerifier };

export interface VerifierSettings {
  mode: 'aws' | 'local';
  clientId: string;
  /** Cognito user pool id (`region_xxxx`), AWS mode. */
  userPoolId?: string | undefined;
  /** Issuer of the local provider, local mode. */
  issuer?: string | undefined;
}

/** JWKS over plain fetch: works with http (the local provider) as well as https. */
class FetchJwksFetcher implements Fetcher {
  async fetch(uri: string): Promise<ArrayBuffer> {
    let res: Response;
    try {
      res = await fetch(uri, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    } catch (err) {
      throw new FetchError(uri, err instanceof Error ? err.name : 'fetch failed');
    }
    if (!res.ok) throw new NonRetryableFetchError(uri, `status code ${res.status}`);
    return res.arrayBuffer();
  }
}

type Verify = (token: string) => Promise<JwtPayload>;

export function createTokenVerifier(settings: VerifierSettings): TokenVerifier {
  const { clientId } = settings;
  let verifyId: Verify;
  let verifyAccess: Verify;
  if (settings.mode === 'aws') {
    if (!settings.userPoolId) throw new Error('COGNITO_USER_POOL_ID is required to verify Cognito tokens');
    const id = CognitoJwtVerifier.create({ userPoolId: settings.userPoolId, clientId, tokenUse: 'id' });
    const access = CognitoJwtVerifier.create({ userPoolId: settings.userPoolId, clientId, tokenUse: 'access' });
    verifyId = (token) => id.verify(token);
    verifyAccess = (token) => access.verify(token);
  } else {
    const issuer = settings.issuer;
    if (!issuer) throw new Error('OIDC_ISSUER is required to verify local tokens');
    const jwksCache = new SimpleJwksCache({ fetcher: new FetchJwksFetcher() });
    const local = (tokenUse: 'id' | 'access') =>
      JwtVerifier.create(
        {
          issuer,
          jwksUri: `${issuer}/.well-known/jwks.json`,
          // Cognito's rules instead: `aud` on ID tokens, `client_id` on access tokens.
          audience: null,
          customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse, clientId }),
        },
        { jwksCache },
      );
    const id = local('id');
    const access = local('access');
    verifyId = (token) => id.verify(token);
    verifyAccess = (token) => access.verify(token);
  }

  return {
    async verifyIdToken(token: string): Promise<VerifiedIdentity> {
      const payload = await checked(() => verifyId(token));
      const username = payload['cognito:username'];
      if (typeof payload.sub !== 'string' || typeof username !== 'string' || username.length === 0) {
        throw new TokenVerificationError('invalid', 'MissingClaim');
      }
      return {
        sub: payload.sub,
        username,
        email: typeof payload.email === 'string' ? payload.email : undefined,
        groups: groupsOf(payload),
      };
    },

    async verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
      const payload = await checked(() => verifyAccess(token));
      if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
        throw new TokenVerificationError('invalid', 'MissingClaim');
      }
      return { sub: payload.sub, groups: groupsOf(payload), expiresAt: payload.exp * 1000 };
    },
  };
}

function groupsOf(payload: JwtPayload): string[] {
  const groups = payload['cognito:groups'];
  return Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
}

async function checked(verify: () => Promise<JwtPayload>): Promise<JwtPayload> {
  try {
    return await verify();
  } catch (err) {
    const summary = err instanceof Error ? err.name : typeof err;
    if (err instanceof JwtExpiredError) throw new TokenVerificationError('expired', summary);
    if (err instanceof FetchError) throw new TokenVerificationError('unavailable', summary);
    throw new TokenVerificationError('invalid', summary);
  }
}
