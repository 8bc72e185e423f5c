/**
 * The local provider's tokens have Cognito's shape, and the token verifier accepts
 * them and nothing else: tampered, mixed-up, foreign-issuer and wrong-client tokens
 * are refused; an unreachable JWKS is told apart from a bad token.
 */
import t from 'tap';
import { LOCAL_CLIENT_ID, startIdentityProvider } from '../../src/local/identity-provider.js';
import { createTokenVerifier } from '../../src/adapters/identity/token-verifier.js';
import { createOidcClient } from '../../src/adapters/identity/oidc-client.js';
import { TokenVerificationError, type SignInError, type TokenRejection } from '../../src/domain/sessions/ports.js';
import { createSessionsRepository } from '../../src/adapters/dynamodb/sessions-repository.js';
import { hashSessionId } from '../../src/domain/sessions/session-service.js';
import { startInstance, startTestStack, uniqueId } from '../helpers/test-stack.js';
import { signIn } from '../helpers/sign-in.js';

const stack = await startTestStack(t);
const instance = await startInstance(t, stack, { REDIS_URL: '' });
const sessions = createSessionsRepository(stack.store.db, stack.store.tables.sessions);

async function tokensOf(username: string) {
  const { cookie } = await signIn(instance.baseUrl, username);
  const row = await sessions.get(hashSessionId(cookie.slice(cookie.indexOf('=') + 1)));
  return { idToken: row!.tokens.idToken!, accessToken: row!.tokens.accessToken, refreshToken: row!.tokens.refreshToken! };
}

const part = (jwt: string, index: 0 | 1) =>
  JSON.parse(Buffer.from(jwt.split('.')[index]!, 'base64url').toString()) as Record<string, unknown>;
const withPayload = (jwt: string, change: (p: Record<string, unknown>) => void) => {
  const [header, payload, signature] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
};

const verifier = createTokenVerifier({ mode: 'local', clientId: LOCAL_CLIENT_ID, issuer: stack.issuer });

async function rejected(promise: Promise<unknown>): Promise<TokenRejection | 'accepted'> {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    if (err instanceof TokenVerificationError) return err.reason;
    throw err;
  }
}

t.test('tokens look like Cognito tokens', async (t) => {
  const name = uniqueId('premiumtok').toLowerCase();
  const { idToken, accessToken } = await tokensOf(name);
  const access = part(accessToken, 1);
  t.equal(access.token_use, 'access');
  t.equal(access.client_id, LOCAL_CLIENT_ID);
  t.equal(access.username, name);
  t.same(access['cognito:groups'], ['premium']);
  t.equal(access.scope, 'openid email profile');
  t.equal(access.iss, stack.issuer);
  t.notOk('aud' in access, 'access tokens have no aud, as in Cognito');

  const id = part(idToken, 1);
  t.equal(id.token_use, 'id');
  t.equal(id.aud, LOCAL_CLIENT_ID);
  t.equal(id['cognito:username'], name);
  t.equal(id.email, `${name}@huddle.local`);
  t.equal(id.sub, access.sub);
  t.equal(part(idToken, 0).alg, 'RS256');
});

t.test('the verifier accepts genuine tokens', async (t) => {
  const name = uniqueId('tok').toLowerCase();
  const { idToken, accessToken } = await tokensOf(name);
  const identity = await verifier.verifyIdToken(idToken);
  t.equal(identity.username, name);
  t.equal(identity.email, `${name}@huddle.local`);
  t.same(identity.groups, []);
  const access = await verifier.verifyAccessToken(accessToken);
  t.equal(access.sub, identity.sub);
  t.ok(access.expiresAt > Date.now() + 50 * 60_000, 'about an hour left');
});

t.test('the verifier refuses anything else', async (t) => {
  const { idToken, accessToken } = await tokensOf(uniqueId('tok').toLowerCase());
  t.equal(
    await rejected(verifier.verifyIdToken(withPayload(idToken, (p) => (p['cognito:username'] = 'someone-else')))),
    'invalid',
    'tampered claims',
  );
  t.equal(
    await rejected(verifier.verifyAccessToken(withPayload(accessToken, (p) => (p['cognito:groups'] = ['premium'])))),
    'invalid',
    'self-promoted',
  );
  const [h, p] = idToken.split('.');
  t.equal(await rejected(verifier.verifyIdToken(`${h}.${p}.${accessToken.split('.')[2]}`)), 'invalid', 'borrowed signature');
  t.equal(await rejected(verifier.verifyIdToken(accessToken)), 'invalid', 'an access token is no ID token');
  t.equal(await rejected(verifier.verifyAccessToken(idToken)), 'invalid', 'an ID token is no access token');
  t.equal(await rejected(verifier.verifyIdToken('not.a.jwt')), 'invalid', 'garbage');

  const otherClient = createTokenVerifier({ mode: 'local', clientId: 'another-client', issuer: stack.issuer });
  t.equal(await rejected(otherClient.verifyIdToken(idToken)), 'invalid', 'ID token for another client');
  t.equal(await rejected(otherClient.verifyAccessToken(accessToken)), 'invalid', 'access token for another client');
});

t.test('a token from another provider is refused; an unreachable one is "unavailable"', async (t) => {
  const other = await startIdentityProvider({ port: 0 });
  let closed = false;
  t.teardown(() => (closed ? undefined : other.close()));
  const otherInstance = await startInstance(t, stack, { REDIS_URL: '', OIDC_ISSUER: other.issuer });
  const { cookie } = await signIn(otherInstance.baseUrl, uniqueId('tok').toLowerCase());
  const row = await sessions.get(hashSessionId(cookie.slice(cookie.indexOf('=') + 1)));
  const foreign = row!.tokens.idToken!;
  t.equal(await rejected(verifier.verifyIdToken(foreign)), 'invalid', 'issuer mismatch');

  await otherInstance.close();
  await other.close();
  closed = true;
  const orphan = createTokenVerifier({ mode: 'local', clientId: LOCAL_CLIENT_ID, issuer: other.issuer });
  t.equal(await rejected(orphan.verifyIdToken(foreign)), 'unavailable', 'keys cannot be fetched');
});

t.test('refresh and revocation at the provider', async (t) => {
  const { refreshToken, accessToken } = await tokensOf(uniqueId('tok').toLowerCase());
  const client = createOidcClient({
    issuer: stack.issuer,
    clientId: LOCAL_CLIENT_ID,
    redirectUri: `${instance.baseUrl}/authorize`,
    logoutOrigin: stack.issuer,
    logoutUri: `${instance.baseUrl}/`,
    allowHttp: true,
  });
  const fresh = await client.refresh(refreshToken);
  t.not(fresh.accessToken, accessToken);
  t.equal((await verifier.verifyAccessToken(fresh.accessToken)).sub, part(accessToken, 1).sub);
  await client.revoke(refreshToken);
  const refused = await client.refresh(refreshToken).catch((err: unknown) => err);
  t.equal((refused as SignInError).reason, 'invalid_code', 'a revoked refresh token is refused');
});
