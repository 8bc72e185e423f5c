/** How sign-in reads the configuration in each mode; nothing here touches the network. */
import t from 'tap';
import { freezeConfig, parseConfig } from '../../src/config.js';

const loadConfig = (env: Record<string, string>) => freezeConfig(parseConfig(env));
import { createOidcClient } from '../../src/adapters/identity/oidc-client.js';
import { createTokenVerifier } from '../../src/adapters/identity/token-verifier.js';
import { oidcSettingsFrom, verifierSettingsFrom } from '../../src/compose.js';
import { TokenVerificationError } from '../../src/domain/sessions/ports.js';

const awsEnv = {
  COGNITO_USER_POOL_ID: 'eu-west-1_AbC123',
  AWS_REGION: 'eu-west-1',
  COGNITO_DOMAIN: 'https://auth.huddle.example',
  COGNITO_CLIENT_ID: 'client-123',
  SESSION_SECRET: 'x'.repeat(40),
  PUBLIC_URL: 'https://chat.huddle.example',
};

t.test('AWS mode: Cognito issuer, hosted UI logout, https redirect', async (t) => {
  const settings = oidcSettingsFrom(loadConfig(awsEnv));
  t.equal(settings.issuer, 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123');
  t.equal(settings.redirectUri, 'https://chat.huddle.example/authorize');
  t.equal(settings.logoutOrigin, 'https://auth.huddle.example');
  t.equal(settings.allowHttp, false);
  t.equal(
    createOidcClient(settings).logoutUrl(),
    'https://auth.huddle.example/logout?client_id=client-123&logout_uri=https%3A%2F%2Fchat.huddle.example%2F',
  );
});

t.test('AWS mode verifier refuses a token from any other issuer before fetching keys', async (t) => {
  const verifier = createTokenVerifier(verifierSettingsFrom(loadConfig(awsEnv)));
  const fake = [
    Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'k' })).toString('base64url'),
    Buffer.from(JSON.stringify({ iss: 'http://127.0.0.1:1', sub: 's', token_use: 'id', aud: 'client-123', exp: 4e9 })).toString(
      'base64url',
    ),
    'c2ln',
  ].join('.');
  const err = await verifier.verifyIdToken(fake).catch((e: unknown) => e);
  t.ok(err instanceof TokenVerificationError);
  t.equal((err as TokenVerificationError).reason, 'invalid');
});

t.test('local mode: the local issuer, plain http allowed', async (t) => {
  const settings = oidcSettingsFrom(loadConfig({ OIDC_ISSUER: 'http://127.0.0.1:9010', COGNITO_CLIENT_ID: 'huddle-local', PORT: '3000' }));
  t.equal(settings.issuer, 'http://127.0.0.1:9010');
  t.equal(settings.redirectUri, 'http://localhost:3000/authorize');
  t.equal(settings.logoutOrigin, 'http://127.0.0.1:9010');
  t.equal(settings.allowHttp, true);
});

t.test('missing settings fail at boot with the variable named', async (t) => {
  t.throws(() => oidcSettingsFrom(loadConfig({ OIDC_ISSUER: 'http://127.0.0.1:9010' })), /COGNITO_CLIENT_ID/);
  t.throws(() => oidcSettingsFrom(loadConfig({ COGNITO_CLIENT_ID: 'huddle-local' })), /OIDC_ISSUER/);
});
