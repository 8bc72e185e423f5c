/**
 * How the chat page is built and served: scripts/build-page.ts bundles it into a
 * temporary folder, and the static plugin serves that on a bare Fastify instance
 * (it needs nothing else from the app).
 */
import t from 'tap';
import Fastify from 'fastify';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import staticPlugin from '../../src/transport/http/static.js';
import { buildPage, type BuiltPage } from '../../scripts/build-page.js';

const origins = { self: 'http://127.0.0.1:3000', files: 'http://127.0.0.1:4569' };

let page: BuiltPage;
t.before(async () => {
  page = await buildPage(await mkdtemp(path.join(tmpdir(), 'huddle-page-')));
});
t.teardown(() => rm(page.dir, { recursive: true, force: true }));

async function build(t: { teardown(fn: () => unknown): void }) {
  const app = Fastify({ logger: false });
  t.teardown(() => app.close());
  await app.register(staticPlugin, { secure: false, origins, root: page.dir });
  app.get('/api/ping', async () => ({ ok: true }));
  await app.ready();
  return app;
}

t.test('the build writes a hashed script and stylesheet and an index.html naming them', async (t) => {
  t.match(page.script, /^app-[A-Z0-9]{8}\.js$/);
  t.match(page.stylesheet, /^styles-[A-Z0-9]{8}\.css$/);
  const files = await readdir(page.dir);
  t.ok(files.includes(page.script) && files.includes(page.stylesheet) && files.includes('index.html'));
  t.notOk(
    files.some((file) => file.endsWith('.ts')),
    'no TypeScript source is shipped',
  );
  const bundle = await readFile(path.join(page.dir, page.script), 'utf8');
  t.notMatch(
    bundle,
    /innerHTML|outerHTML|insertAdjacentHTML|document\.write|new Function|\beval\(/,
    'no string-to-markup or string-to-code sinks',
  );
  t.match(bundle, /📎/, 'the shared preview rule is bundled in');
});

t.test('index.html is served at / with no-cache and a policy naming exact origins', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/html/);
  t.ok(res.body.includes(`<script type="module" src="${page.script}"></script>`), 'the hashed script');
  t.ok(res.body.includes(`href="${page.stylesheet}"`), 'the hashed stylesheet');
  t.notMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style/, 'no inline script or style');
  t.equal(res.headers['cache-control'], 'no-cache');
  const csp = String(res.headers['content-security-policy']);
  t.match(csp, /default-src 'self'/);
  t.match(csp, /connect-src 'self' ws:\/\/127\.0\.0\.1:3000 http:\/\/127\.0\.0\.1:4569;/);
  t.match(csp, /img-src 'self' http:\/\/127\.0\.0\.1:4569;/);
  t.match(csp, /require-trusted-types-for 'script'/);
  t.match(csp, /trusted-types 'none'/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\bhttps?:(?!\/\/)|\bwss?:(?!\/\/)/, 'no inline code and no scheme-wide sources');
  t.notMatch(csp, /upgrade-insecure-requests/, 'a local http stack keeps working');
  t.notOk(res.headers['strict-transport-security'], 'no HSTS promise over plain http');
});

t.test('hashed assets are cached for a year as immutable; the rest is revalidated', async (t) => {
  const app = await build(t);
  for (const [file, type] of [
    [page.script, /javascript/],
    [page.stylesheet, /text\/css/],
  ] as const) {
    const res = await app.inject({ method: 'GET', url: `/${file}` });
    t.equal(res.statusCode, 200, file);
    t.match(res.headers['content-type'], type, file);
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', file);
  }
  const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
  t.equal(icon.statusCode, 200);
  t.equal(icon.headers['cache-control'], 'no-cache', 'an unhashed name is revalidated');
});

t.test('source files and unknown paths are not served', async (t) => {
  const app = await build(t);
  t.equal((await app.inject({ method: 'GET', url: '/app.ts' })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/app.js' })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/../package.json' })).statusCode, 404);
});

t.test('routes registered next to the page keep working and get the security headers', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/api/ping' });
  t.same(res.json(), { ok: true });
  t.equal(res.headers['x-content-type-options'], 'nosniff');
});

t.test('without a built page the API still works and the page address says how to build it', async (t) => {
  const empty = await mkdtemp(path.join(tmpdir(), 'huddle-nopage-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const app = Fastify({ logger: false });
  t.teardown(() => app.close());
  await app.register(staticPlugin, { secure: false, origins, root: empty });
  app.get('/api/ping', async () => ({ ok: true }));
  const res = await app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 503);
  t.match(res.body, /npm run build/);
  t.same((await app.inject({ method: 'GET', url: '/api/ping' })).json(), { ok: true });
});
