/**
 * What sessions and sign-in need from outside: storage of sessions, the identity
 * provider (the Cognito hosted UI, or the local stand-in) and the verifier of its
 * tokens. Adapters: `adapters/dynamodb/sessions-repository.ts`,
 * `adapters/identity/oidc-client.ts`, `adapters/identity/token-verifier.ts`.
 */
export interface SessionTokens {
  idToken?: string | undefined;
  accessToken: string;
  refreshToken?: string | undefined;
  /** Epoch ms, from the access token's `exp`. */
  accessTokenExpiresAt: number;
}

export interface SessionRecord {
  sessionHash: string;
  userId: string;
  tokens: SessionTokens;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last request seen, kept to within `TOUCH_INTERVAL_MS`. */
  lastSeenAt: number;
  /** Epoch ms: the absolute end, however busy the session. */
  expiresAt: number;
  /** Epoch seconds, for DynamoDB TTL; equal to the absolute expiry. */
  ttl: number;
  /** Epoch ms when an instance took on refreshing the tokens (absent when none is). */
  refreshClaimedAt?: number | undefined;
}

/**
 * Storage of sessions. Implementation: DynamoDB (`adapters/dynamodb/sessions-repository.ts`).
 * Reads are strongly consistent; rows past their `ttl` may still be returned, and
 * the caller judges validity (see `sessionStatus`).
 */
export interface SessionsRepository {
  /** Writes a new row; rejects if the key exists. */
  create(record: SessionRecord): Promise<void>;
  get(sessionHash: string): Promise<SessionRecord | undefined>;
  /** Sets `lastSeenAt = now` only if it is older than `ifLastSeenBefore`; false if not (or no row). */
  touch(sessionHash: string, now: number, ifLastSeenBefore: number): Promise<boolean>;
  /**
   * Claims the token refresh for the caller: true for exactly one caller across all
   * instances until the claim is released or older than `staleBefore`.
   */
  claimTokenRefresh(sessionHash: string, now: number, staleBefore: number): Promise<boolean>;
  /** Stores refreshed tokens and releases the claim; false if the row is gone. */
  saveRefreshedTokens(sessionHash: string, tokens: SessionTokens): Promise<boolean>;
  /** Deletes the row and returns what it held (undefined when there was none). */
  delete(sessionHash: string): Promise<SessionRecord | undefined>;
}

/** Exchanges a refresh token for fresh, verified tokens; throws when it cannot. */
export type TokenRefresher = (refreshToken: string) => Promise<SessionTokens>;

// ---------- the identity provider

export type SignInFailureReason =
  /** The code was forged, expired or already used (`invalid_grant`). */
  | 'invalid_code'
  /** The provider's answer broke the protocol (state, issuer, nonce, ...). */
  | 'invalid_response'
  /** The provider could not be reached or failed. */
  | 'provider_unavailable';

export class SignInError extends Error {
  constructor(
    readonly reason: SignInFailureReason,
    /** Class and OAuth error code of the cause: safe to log. */
    readonly summary: string,
  ) {
    super(`sign-in failed: ${reason}`);
    this.name = 'SignInError';
  }
}

export interface ProviderTokens {
  accessToken: string;
  idToken?: string | undefined;
  refreshToken?: string | undefined;
}

export interface AuthorizationRequest {
  url: string;
  codeVerifier: string;
  state: string;
  nonce: string;
}

/** The OpenID Connect client side of sign-in. Failures throw `SignInError`. */
export interface IdentityProvider {
  /** A fresh authorization request: PKCE (S256) verifier, state and nonce to keep until the callback. */
  authorizationRequest(): Promise<AuthorizationRequest>;
  /** Exchanges the code in the callback's query string (the provider's own checks included). */
  exchangeCode(callbackQuery: URLSearchParams, checks: { codeVerifier: string; state: string; nonce: string }): Promise<ProviderTokens>;
  refresh(refreshToken: string): Promise<ProviderTokens>;
  revoke(refreshToken: string): Promise<void>;
  /** Where the browser goes to end the provider's own session too. */
  logoutUrl(): string;
}

// ---------- its tokens

/** Who the provider says signed in (from the ID token). */
export interface VerifiedIdentity {
  sub: string;
  username: string;
  email?: string | undefined;
  groups: string[];
}

export interface VerifiedAccessToken {
  sub: string;
  groups: string[];
  /** Epoch ms. */
  expiresAt: number;
}

export type TokenRejection = 'invalid' | 'expired' | 'unavailable';

export class TokenVerificationError extends Error {
  constructor(
    readonly reason: TokenRejection,
    /** Error class only: safe to log. */
    readonly summary: string,
  ) {
    super(`token rejected: ${reason}`);
    this.name = 'TokenVerificationError';
  }
}

/** Verifies the provider's tokens (signature, issuer, expiry, Cognito's fields). Failures throw `TokenVerificationError`. */
export interface TokenVerifier {
  verifyIdToken(token: string): Promise<VerifiedIdentity>;
  verifyAccessToken(token: string): Promise<VerifiedAccessToken>;
}
