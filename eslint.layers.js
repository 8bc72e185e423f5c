/**
 * The layer rule, as ESLint configuration: dependencies point down only.
 *
 *   model, shared      import nothing of the project
 *   web                the page (runs in browsers): shared and itself only; nothing of Node
 *   domain             model, shared, its own ports; no framework, driver or SDK
 *   adapters           domain ports, model, shared; never transport
 *   transport          domain, model, shared (and config types); never adapters or prom-client (metrics go through the domain's port)
 *   local              adapters, shared, config; never transport
 *   compose, app, server   everything
 *
 * Kept in its own module so that a test can run exactly these rules against
 * sample imports (test/unit/layers.test.ts).
 */

const importsOf = (/** @type {string[]} */ names) =>
  names.map((name) => ({ group: [name, `${name}/**`], message: 'not in this layer (see eslint.layers.js)' }));
const paths = (/** @type {string[]} */ globs, /** @type {string} */ why) => globs.map((glob) => ({ group: [glob], message: why }));

const infrastructure = [
  'fastify',
  '@fastify/*',
  'fastify-plugin',
  'ioredis',
  'ws',
  '@aws-sdk/*',
  '@smithy/*',
  'openid-client',
  'aws-jwt-verify',
  'pino',
  'prom-client',
];
const compositionRoot = ['**/compose.js', '**/app.js', '**/server.js'];

/** @returns {import('eslint').Linter.Config} */
const restrict = (/** @type {string[]} */ files, /** @type {object[]} */ patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

/** @type {import('eslint').Linter.Config[]} */
export const layerRules = [
  restrict(['src/model/**/*.ts', 'src/shared/**/*.ts'], paths(['../**'], 'model and shared import nothing of the project')),
  restrict(
    ['src/domain/**/*.ts'],
    [
      ...importsOf(infrastructure),
      ...paths(
        ['**/transport/**', '**/adapters/**', '**/local/**', '**/config.js', ...compositionRoot],
        'the domain imports only model, shared and domain ports',
      ),
    ],
  ),
  restrict(
    ['src/adapters/**/*.ts'],
    [
      ...importsOf(['fastify', '@fastify/*', 'fastify-plugin']),
      ...paths(
        ['**/transport/**', '**/local/**', '**/config.js', ...compositionRoot],
        'adapters implement domain ports; they never import transport or config',
      ),
    ],
  ),
  restrict(
    ['src/transport/**/*.ts'],
    [
      ...importsOf(['ioredis', '@aws-sdk/*', '@smithy/*', 'openid-client', 'aws-jwt-verify', 'prom-client']),
      ...paths(['**/adapters/**', '**/local/**', '**/compose.js', '**/server.js'], 'transport reaches adapters only through domain ports'),
    ],
  ),
  restrict(
    ['src/web/**/*.ts'],
    [
      ...importsOf([...infrastructure, '@sinclair/*', 'node:*']),
      // Anything that leaves src/web, except into src/shared.
      { regex: '^\\.\\./(?!shared/[^/]+$)', message: 'the page imports only shared and its own modules' },
    ],
  ),
  restrict(['src/local/**/*.ts'], paths(['**/transport/**', ...compositionRoot], 'the local stack sits beside adapters, below transport')),
];
