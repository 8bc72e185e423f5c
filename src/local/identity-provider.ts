/**
 * A local OpenID provider standing in for the Cognito hosted UI, built on
 * `oidc-provider`. It speaks Cognito's paths and token shapes closely enough that the
 * app's sign-in code cannot tell the difference:
 *
 * - paths: /oauth2/authorize, /oauth2/token, /oauth2/userInfo, /oauth2/revoke,
 *   /logout (Cognito style: `?client_id=...&logout_uri=...`), /.well-known/jwks.json,
 *   /.well-known/openid-configuration;
 * - one public client, `LOCAL_CLIENT_ID`, authorization code with PKCE (S256) only,
 *   refresh tokens always issued and never rotated (Cognito's default);
 * - any loopback redirect URI ending in `/authorize`, whatever its port, so several
 *   app instances on one machine share one provider;
 * - access tokens are JWTs with `token_use: 'access'`, `client_id`, `username`,
 *   `cognito:groups`, `scope` and no `aud`; ID tokens carry `cognito:username`,
 *   `email`, `token_use: 'id'` and `aud` = the client id.
 *
 * The login form asks for a username only: any name matching `USERNAME_PATTERN` is
 * accepted and becomes a user whose `sub` is derived from the name, so the same name
 * is the same user across restarts. Names starting with `premium` are put in the
 * `premium` group, which makes them premium users in huddle (PREMIUM_GROUP default).
 *
 * Everything (keys, sessions, grants, tokens) lives in memory and dies with the process.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { SIGN_IN_SCOPES } from '../adapters/identity/oidc-client.js';
import { escapeHtml } from '../shared/html.js';
import { loginForm, SIGN_IN_PAGE_POLICY, SIGN_IN_STYLESHEET, SIGN_IN_STYLESHEET_PATH, signInPage } from './sign-in-page.js';
import type * as OidcProviderModule from 'oidc-provider';
import type { Account, Adapter, AdapterPayload, InteractionDetails, IssuedToken, Provider as OidcProvider } from 'oidc-provider';

export const LOCAL_CLIENT_ID = 'huddle-local';
/** Group put in `cognito:groups` for usernames starting with `premium`. */
export const LOCAL_PREMIUM_GROUP = 'premium';
/** Usernames the login form accepts (case-insensitive; stored lower-case). */
export const USERNAME_PATTERN = /^[a-z0-9_.-]{2,32}$/i;

/** Scopes the Cognito app client allows and huddle asks for. */
/**
 * oidc-provider issues JWT access tokens only for a resource server. This made-up
 * one is the default for every request; its identifier never reaches a token.
 */
const RESOURCE = 'urn:huddle:local-api';
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

const ttlSeconds = {
  AccessToken: 60 * 60, // 1 hour, as Cognito's default
  AuthorizationCode: 5 * 60, // 5 minutes, as Cognito
  IdToken: 60 * 60, // 1 hour
  RefreshToken: 30 * 24 * 60 * 60, // 30 days, as Cognito's default
  Interaction: 10 * 60, // 10 minutes to fill in the form
  Session: 24 * 60 * 60, // 1 day of "already signed in" at the provider
  Grant: 30 * 24 * 60 * 60, // as long as the refresh token
};

export interface RunningIdentityProvider {
  issuer: string;
  close(): Promise<void>;
}

/** The `sub` of a local username: a UUID derived from the name, stable across restarts. */
export function localUserId(username: string): string {
  const bytes = createHash('sha256').update(`huddle-local-user:${username.toLowerCase()}`).digest().subarray(0, 16);
  // RFC 9562 version 8 (custom) with the RFC variant bits, so it looks like any other UUID.
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function localGroupsOf(username: string): string[] {
  return username.toLowerCase().startsWith('premium') ? [LOCAL_PREMIUM_GROUP] : [];
}

/**
 * Starts the provider on `host:port` (port 0: any free port). The issuer uses the
 * same host, so the browser and the app reach it at one address.
 */
export async function startIdentityProvider(opts: { port: number; host?: string }): Promise<RunningIdentityProvider> {
  const host = opts.host ?? '127.0.0.1';
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const store = new MemoryStore();
  try {
    const usernames = new Map<string, string>(); // sub -> username, filled at sign-in
    const provider = await createProvider(issuer, store, usernames);
    const idp: LocalIdp = { provider, usernames, providerCallback: provider.callback() };
    handle = (req, res) => {
      routeRequest(idp, req, res).catch(() => {
        if (!res.headersSent)
          sendHtml(res, 500, signInPage('Something went wrong', '<p>The local sign-in provider failed; try again.</p>'));
        else res.destroy();
      });
    };
  } catch (err) {
    server.close();
    store.close();
    throw err;
  }

  return {
    issuer,
    async close() {
      store.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * Node 20 is past its end of life and oidc-provider says so on import; the message
 * is about the runtime, not about anything a huddle developer can act on, so it is
 * filtered out (only that exact message, only while the module first loads).
 */
async function importOidcProvider(): Promise<typeof OidcProviderModule> {
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider WARNING: Unsupported runtime')) return;
    original.apply(console, args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = original;
  }
}

interface LocalIdp {
  provider: OidcProvider;
  /** sub -> username of everyone who signed in since start (tokens die with the process anyway). */
  usernames: Map<string, string>;
  providerCallback: (req: IncomingMessage, res: ServerResponse) => void;
}

async function createProvider(issuer: string, store: MemoryStore, usernames: ReadonlyMap<string, string>): Promise<OidcProvider> {
  const { default: Provider, errors } = await importOidcProvider();
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

  const accountFor = (sub: string): (Account & { username: string }) | undefined => {
    const username = usernames.get(sub);
    if (!username) return undefined;
    const groups = localGroupsOf(username);
    return {
      accountId: sub,
      username,
      claims: (use) => ({
        sub,
        'cognito:username': username,
        email: `${username}@huddle.local`,
        email_verified: true,
        ...(groups.length > 0 ? { 'cognito:groups': groups } : {}),
        ...(use === 'id_token' ? { token_use: 'id' } : {}),
      }),
    };
  };

  const provider = new Provider(issuer, {
    adapter: (model: string) => store.adapterFor(model),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [
      {
        client_id: LOCAL_CLIENT_ID,
        // "native" is what lets a registered loopback redirect URI match on any port (RFC 8252).
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: LOOPBACK_HOSTS.map((h) => `http://${h}/authorize`),
      },
    ],
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      userinfo: '/oauth2/userInfo',
      revocation: '/oauth2/revoke',
      jwks: '/.well-known/jwks.json',
    },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: {
      openid: ['sub', 'cognito:username', 'cognito:groups', 'token_use'],
      email: ['email', 'email_verified'],
      profile: [],
    },
    // Cognito puts email in the ID token whatever the access token can fetch from userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) =>
          token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: SIGN_IN_SCOPES,
            audience: LOCAL_CLIENT_ID,
            accessTokenFormat: 'jwt',
            accessTokenTTL: ttlSeconds.AccessToken,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        // oidc-provider refuses to sign an access token without `aud`; Cognito's have
        // none, so the claim is left out of the serialized payload only.
        jwt: async (_ctx: unknown, _token: IssuedToken, jwt: { payload: Record<string, unknown> }) => {
          Object.defineProperty(jwt.payload, 'toJSON', {
            enumerable: false,
            value(this: Record<string, unknown>) {
              const { aud: _aud, ...rest } = this;
              return rest;
            },
          });
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: IssuedToken) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const account = accountFor(token.accountId);
      if (!account) return undefined;
      const groups = localGroupsOf(account.username);
      return { token_use: 'access', username: account.username, ...(groups.length > 0 ? { 'cognito:groups': groups } : {}) };
    },
    findAccount: async (_ctx: unknown, sub: string) => accountFor(sub),
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: false,
    // A refresh token outlives the provider's "signed in" cookie, as in Cognito.
    expiresWithSession: async () => false,
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: ttlSeconds,
    clientBasedCORS: () => false,
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = signInPage(
        'Sign-in error',
        `<p><strong>${escapeHtml(out.error ?? 'error')}</strong>: ${escapeHtml(out.error_description ?? '')}</p>`,
      );
    },
  });
  // The provider sits behind nothing: trust no forwarded headers.
  provider.proxy = false;
  return provider;
}

async function routeRequest(idp: LocalIdp, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { provider } = idp;
  const url = new URL(req.url ?? '/', 'http://provider.invalid');
  const interaction = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(url.pathname);
  if (interaction) {
    const [, uid, action] = interaction as unknown as [string, string, 'login' | 'abort' | undefined];
    if (!action && req.method === 'GET') return showInteraction(provider, req, res, uid);
    if (action && req.method === 'POST') return submitInteraction(idp, req, res, uid, action);
    return sendHtml(res, 405, signInPage('Not allowed', '<p>Use the sign-in form.</p>'));
  }
  if (url.pathname === '/logout' && req.method === 'GET') return logout(provider, req, res, url);
  if (url.pathname === SIGN_IN_STYLESHEET_PATH && req.method === 'GET') return sendStylesheet(res);
  idp.providerCallback(req, res);
}

async function interactionOrError(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, uid: string) {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid === uid) return details;
  } catch {
    // an expired or foreign interaction: answered below
  }
  sendHtml(res, 400, signInPage('Sign-in expired', '<p>This sign-in attempt has expired. Go back to the app and sign in again.</p>'));
  return undefined;
}

async function showInteraction(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, uid: string) {
  const details = await interactionOrError(provider, req, res, uid);
  if (!details) return;
  // Already signed in at the provider: only the (always granted) consent is missing.
  if (details.prompt.name !== 'login' && details.session?.accountId) {
    return finishWithGrant(provider, req, res, details, details.session.accountId);
  }
  sendHtml(res, 200, loginForm(uid));
}

async function submitInteraction(idp: LocalIdp, req: IncomingMessage, res: ServerResponse, uid: string, action: 'login' | 'abort') {
  const { provider } = idp;
  const form = new URLSearchParams(await readBody(req, 4096));
  const details = await interactionOrError(provider, req, res, uid);
  if (!details) return;
  if (action === 'abort') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'End-User aborted interaction' },
      { mergeWithLastSubmission: false },
    );
  }
  const username = (form.get('username') ?? '').trim();
  if (!USERNAME_PATTERN.test(username)) {
    return sendHtml(res, 400, loginForm(uid, username, 'Use 2 to 32 letters, digits, dots, dashes or underscores.'));
  }
  const normalized = username.toLowerCase();
  const sub = localUserId(normalized);
  idp.usernames.set(sub, normalized);
  return finishWithGrant(provider, req, res, details, sub);
}

/** Grants exactly what huddle asks for: the local provider has no consent screen, like Cognito's. */
async function finishWithGrant(
  provider: OidcProvider,
  req: IncomingMessage,
  res: ServerResponse,
  details: InteractionDetails,
  accountId: string,
) {
  const clientId = String(details.params.client_id ?? LOCAL_CLIENT_ID);
  const grant = new provider.Grant({ accountId, clientId });
  const requested = String(details.params.scope ?? SIGN_IN_SCOPES);
  grant.addOIDCScope(requested);
  grant.addResourceScope(RESOURCE, requested);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

/** Cognito's logout: ends the provider's own session, then goes to `logout_uri`. */
async function logout(provider: OidcProvider, req: IncomingMessage, res: ServerResponse, url: URL) {
  const clientId = url.searchParams.get('client_id');
  const logoutUri = url.searchParams.get('logout_uri') ?? '';
  const target = URL.parse(logoutUri);
  if (clientId !== LOCAL_CLIENT_ID || !target || target.protocol !== 'http:' || !LOOPBACK_HOSTS.includes(target.hostname)) {
    return sendHtml(res, 400, signInPage('Sign-out error', '<p>Unknown client_id or a logout_uri that is not a local http address.</p>'));
  }
  const ctx = provider.createContext(req, res);
  const cookieName = provider.cookieName('session');
  const sessionId = ctx.cookies.get(cookieName, { signed: true });
  if (sessionId) {
    const session = await provider.Session.find(sessionId);
    await session?.destroy();
  }
  ctx.cookies.set(cookieName, null, { signed: true });
  res.statusCode = 302;
  res.setHeader('Location', target.href);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        reject(new Error('form too large'));
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function sendHtml(res: ServerResponse, status: number, html: string) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', SIGN_IN_PAGE_POLICY);
  res.end(html);
}

function sendStylesheet(res: ServerResponse) {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/css; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.end(SIGN_IN_STYLESHEET);
}

/**
 * In-memory storage for every oidc-provider model, with expiry. Unlike the package's
 * development adapter it has no size cap, so a load test's thousands of users are not
 * evicted mid-run.
 */
class MemoryStore {
  private readonly entries = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  private readonly grantMembers = new Map<string, Set<string>>();
  private readonly sessionUids = new Map<string, string>();
  private readonly sweeper = setInterval(() => this.sweep(), 60_000).unref();

  adapterFor(model: string): Adapter {
    const key = (id: string) => `${model}:${id}`;
    return {
      upsert: async (id, payload, expiresIn) => {
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
        this.entries.set(key(id), { payload, expiresAt });
        if (model === 'Session' && payload.uid) this.sessionUids.set(payload.uid, id);
        if (payload.grantId && model !== 'Grant' && model !== 'Session' && model !== 'Interaction') {
          const members = this.grantMembers.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          this.grantMembers.set(payload.grantId, members);
        }
      },
      find: async (id) => this.get(key(id)),
      findByUid: async (uid) => {
        const id = this.sessionUids.get(uid);
        return id === undefined ? undefined : this.get(key(id));
      },
      findByUserCode: async () => undefined,
      consume: async (id) => {
        const entry = this.get(key(id));
        if (entry) entry.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => {
        this.entries.delete(key(id));
      },
      revokeByGrantId: async (grantId) => {
        for (const member of this.grantMembers.get(grantId) ?? []) this.entries.delete(member);
        this.grantMembers.delete(grantId);
      },
    };
  }

  private get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  private sweep() {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    for (const [uid, id] of this.sessionUids) if (!this.entries.has(`Session:${id}`)) this.sessionUids.delete(uid);
    for (const [grantId, members] of this.grantMembers) {
      for (const member of members) if (!this.entries.has(member)) members.delete(member);
      if (members.size === 0) this.grantMembers.delete(grantId);
    }
  }

  close() {
    clearInterval(this.sweeper);
  }
}
