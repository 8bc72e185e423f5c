/**
 * How the chat page is served: the static plugin on a bare Fastify instance (it
 * needs nothing else from the app).
 */
import t from 'tap';
import Fastify from 'fastify';
import staticPlugin from '../../src/transport/http/static.js';

async function build(t: { teardown(fn: () => unknown): void }) {
  const app = Fastify({ logger: false });
  t.teardown(() => app.close());
  await app.register(staticPlugin, { secure: false });
  app.get('/api/ping', async () => ({ ok: true }));
  await app.ready();
  return app;
}

t.test('the page is served at / with a policy that allows no inline code', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/html/);
  t.match(res.body, /<script type="module" src="app.js"><\/script>/);
  t.equal(res.headers['cache-control'], 'no-cache');
  const csp = String(res.headers['content-security-policy']);
  t.match(csp, /default-src 'self'/);
  t.match(csp, /connect-src 'self' ws: wss: http: https:/);
  t.match(csp, /img-src 'self' blob: data: http: https:/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval/);
  t.notMatch(csp, /upgrade-insecure-requests/, 'a local http stack keeps working');
  t.notOk(res.headers['strict-transport-security'], 'no HSTS promise over plain http');
});

t.test('the modules are served as JavaScript and revalidated on every load', async (t) => {
  const app = await build(t);
  for (const file of ['app.js', 'chat-client.js', 'reorder-buffer.js', 'outbox.js', 'api.js']) {
    const res = await app.inject({ method: 'GET', url: `/${file}` });
    t.equal(res.statusCode, 200, file);
    t.match(res.headers['content-type'], /javascript/, file);
    t.equal(res.headers['cache-control'], 'no-cache', file);
    t.ok(res.headers.etag, `${file} has an etag`);
  }
  const css = await app.inject({ method: 'GET', url: '/styles.css' });
  t.match(css.headers['content-type'], /text\/css/);
});

t.test('type declarations and unknown paths are not served', async (t) => {
  const app = await build(t);
  t.equal((await app.inject({ method: 'GET', url: '/chat-client.d.ts' })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/nothing-here.js' })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/../package.json' })).statusCode, 404);
});

t.test('routes registered next to the page keep working and get the security headers', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/api/ping' });
  t.same(res.json(), { ok: true });
  t.equal(res.headers['x-content-type-options'], 'nosniff');
});
