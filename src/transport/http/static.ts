import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import helmet from '@fastify/helmet';

/**
 * Where `npm run build` (and `npm start`) put the bundled page: `dist/public/` at the
 * repository root, three folders up from this module in `src/`. The server's entry
 * passes its own path, as this module has none of its own inside the bundled server.
 */
export const pageDir = fileURLToPath(new URL('../../../dist/public/', import.meta.url));

/** esbuild's `[name]-[hash]` names: their content never changes under that name. */
const HASHED_ASSET = /-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$/;

export interface PageOrigins {
  /** The service's own origin (the page's, and the WebSocket's with ws/wss). */
  self: string;
  /** Where images download from and uploads go: the file bucket's origin. */
  files: string;
}

/**
 * What the page may load and reach: scripts and styles only from our own files (no
 * inline code, no style attributes), sockets and requests only to the service and
 * the file bucket, images only from the service and the bucket. Trusted Types are
 * required for script sinks, and no policy may be created: the page never turns
 * strings into code or markup.
 */
export function contentSecurityPolicy({ self, files }: PageOrigins): Record<string, string[]> {
  const socket = self.replace(/^http/, 'ws');
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", files],
    'connect-src': ["'self'", socket, files],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'require-trusted-types-for': ["'script'"],
    'trusted-types': ["'none'"],
  };
}

export interface StaticOptions {
  secure: boolean;
  origins: PageOrigins;
  /** The built page; tests serve one built elsewhere. */
  root?: string;
}

export const permissionsPolicy =
  'accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()';

/**
 * Serves the built chat page and sets security headers on every response. Hashed
 * assets are cached for a year as immutable; everything else (index.html above all)
 * is revalidated on every load, so a deploy reaches every tab on its next load.
 */
export default fp<StaticOptions>(
  async (app, { secure, origins, root = pageDir }) => {
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy(origins) },
      // HSTS over plain http is ignored by browsers and would be wrong to promise locally.
      strictTransportSecurity: secure ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
      // Sign-in and sign-out leave for the identity provider and come back; keep the referrer policy strict.
      referrerPolicy: { policy: 'same-origin' },
    });

    // Nothing on the page needs these; a script that got in still cannot use them.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('permissions-policy', permissionsPolicy);
    });

    const index = path.join(root, 'index.html');
    if (!existsSync(index)) {
      // The API and sockets still work (tests use them without a page); whoever opens the page learns why it is missing.
      const why = `The chat page is not built (no ${index}): run "npm run build" (npm start builds it too).`;
      app.log.warn(why);
      app.get('/', async (_request, reply) => reply.code(503).header('cache-control', 'no-store').type('text/plain').send(why));
      return;
    }
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: 'index.html',
      wildcard: true,
      decorateReply: false,
      cacheControl: false,
      etag: true,
      lastModified: true,
      dotfiles: 'ignore',
      setHeaders: (reply, filePath) => {
        reply.header('cache-control', HASHED_ASSET.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  },
  { name: 'static' },
);
