import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import helmet from '@fastify/helmet';

/**
 * `public/` sits at the repository root, next to both `src/` (run by tsx) and
 * `dist/` (the image), so the same relative step finds it from either.
 */
export const publicDir = fileURLToPath(new URL('../../../public/', import.meta.url));

/**
 * What the page may load. Scripts and styles come only from our own files (no
 * inline code); images and uploads also reach the file bucket, whose origin differs
 * per deployment (the local S3 emulator on http, a bucket on https in AWS), hence
 * the scheme-wide img-src and connect-src.
 */
export const contentSecurityPolicy = {
  'default-src': ["'self'"],
  'img-src': ["'self'", 'blob:', 'data:', 'http:', 'https:'],
  'connect-src': ["'self'", 'ws:', 'wss:', 'http:', 'https:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

export const permissionsPolicy =
  'accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()';

/**
 * Serves the chat page from `public/` and sets security headers on every response.
 * Every file is served with `no-cache` (revalidated by ETag): the page is a graph of
 * unversioned ES modules, and a cached `app.js` next to a fresh `chat-client.js`
 * after a deploy would break the page in ways no reload fixes.
 */
export default fp<{ secure: boolean }>(
  async (app, { secure }) => {
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy },
      // HSTS over plain http is ignored by browsers and would be wrong to promise locally.
      strictTransportSecurity: secure ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
      // Sign-in and sign-out leave for the identity provider and come back; keep the referrer policy strict.
      referrerPolicy: { policy: 'same-origin' },
    });

    // Nothing on the page needs these; a script that got in still cannot use them.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('permissions-policy', permissionsPolicy);
    });

    await app.register(fastifyStatic, {
      root: publicDir,
      prefix: '/',
      index: 'index.html',
      wildcard: true,
      decorateReply: false,
      cacheControl: false,
      etag: true,
      lastModified: true,
      dotfiles: 'ignore',
      // The type declarations next to the modules exist for the TypeScript tests, not for browsers.
      allowedPath: (pathName) => !pathName.endsWith('.d.ts'),
      setHeaders: (reply) => {
        reply.header('cache-control', 'no-cache');
      },
    });
  },
  { name: 'static' },
);
