/**
 * The OpenID Connect client side of sign-in (openid-client v6): the hosted UI's
 * authorization URL with PKCE, state and nonce; the code exchange; refresh;
 * revocation; and Cognito's logout URL. Discovery happens on first use and is
 * retried after a failure, so the app boots even while the provider is away.
 */
import * as openid from 'openid-client';
import { SignInError, type AuthorizationRequest, type IdentityProvider, type ProviderTokens } from '../../domain/sessions/ports.js';

/** What huddle asks of the hosted UI (the Cognito app client must allow these). */
export const SIGN_IN_SCOPES = 'openid email profile';

export interface OidcSettings {
  /** Issuer identifier: discovery happens at `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** Where the provider sends the browser back: `<public origin>/authorize`. */
  redirectUri: string;
  /** Origin of the hosted UI's `/logout` (the Cognito domain; the issuer locally). */
  logoutOrigin: string;
  /** Where the hosted UI's logout sends the browser: `<public origin>/`. */
  logoutUri: string;
  /** Allow plain http to the provider (the local provider only). */
  allowHttp: boolean;
  /** Seconds per provider request. @default 10 */
  timeoutS?: number;
}

export type OidcClient = IdentityProvider;

export function createOidcClient(settings: OidcSettings): IdentityProvider {
  let configuration: Promise<openid.Configuration> | undefined;

  function discover(): Promise<openid.Configuration> {
    configuration ??= openid
      .discovery(
        new URL(settings.issuer),
        settings.clientId,
        settings.clientSecret,
        settings.clientSecret ? openid.ClientSecretBasic(settings.clientSecret) : openid.None(),
        {
          timeout: settings.timeoutS ?? 10,
          ...(settings.allowHttp ? { execute: [openid.allowInsecureRequests] } : {}),
        },
      )
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      });
    return configuration;
  }

  async function call<T>(work: (config: openid.Configuration) => Promise<T>): Promise<T> {
    let config: openid.Configuration;
    try {
      config = await discover();
    } catch (err) {
      throw new SignInError('provider_unavailable', summarize(err));
    }
    try {
      return await work(config);
    } catch (err) {
      throw classify(err);
    }
  }

  return {
    /** A fresh authorization request: PKCE (S256) verifier, state and nonce to keep until the callback. */
    async authorizationRequest(): Promise<AuthorizationRequest> {
      return call(async (config) => {
        const codeVerifier = openid.randomPKCECodeVerifier();
        const state = openid.randomState();
        const nonce = openid.randomNonce();
        const url = openid.buildAuthorizationUrl(config, {
          redirect_uri: settings.redirectUri,
          scope: SIGN_IN_SCOPES,
          code_challenge: await openid.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return { url: url.href, codeVerifier, state, nonce };
      });
    },

    /**
     * Exchanges the code in the callback's query string. The redirect URI sent is the
     * configured one, never one rebuilt from request headers.
     */
    async exchangeCode(
      callbackQuery: URLSearchParams,
      checks: { codeVerifier: string; state: string; nonce: string },
    ): Promise<ProviderTokens> {
      return call(async (config) => {
        const callbackUrl = new URL(settings.redirectUri);
        callbackUrl.search = callbackQuery.toString();
        const tokens = await openid.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token };
      });
    },

    async refresh(refreshToken: string): Promise<ProviderTokens> {
      return call(async (config) => {
        const tokens = await openid.refreshTokenGrant(config, refreshToken);
        return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token };
      });
    },

    async revoke(refreshToken: string): Promise<void> {
      return call((config) => openid.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' }));
    },

    /** Cognito's logout (not OIDC RP-initiated logout): ends the hosted UI's session too. */
    logoutUrl(): string {
      const url = new URL('/logout', settings.logoutOrigin);
      url.searchParams.set('client_id', settings.clientId);
      url.searchParams.set('logout_uri', settings.logoutUri);
      return url.href;
    },
  };
}

function summarize(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const { code, error } = err as { code?: unknown; error?: unknown };
  return [err.name, typeof code === 'string' ? code : undefined, typeof error === 'string' ? error : undefined].filter(Boolean).join(': ');
}

function classify(err: unknown): SignInError {
  const summary = summarize(err);
  if (err instanceof openid.ResponseBodyError) {
    if (err.error === 'invalid_grant') return new SignInError('invalid_code', summary);
    return new SignInError(err.status >= 500 ? 'provider_unavailable' : 'invalid_response', summary);
  }
  if (err instanceof openid.AuthorizationResponseError) return new SignInError('invalid_response', summary);
  if (err instanceof openid.ClientError) {
    // A provider answering with a 5xx page instead of JSON is down, not wrong.
    const code = (err as { code?: string }).code;
    return new SignInError(
      code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON' ? 'provider_unavailable' : 'invalid_response',
      summary,
    );
  }
  // fetch failures (connection refused, timeouts) and anything unforeseen
  return new SignInError('provider_unavailable', summary);
}
