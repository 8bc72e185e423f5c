/**
 * Cross-site request forgery is refused by the server, not left to SameSite alone.
 * Every state-changing request (any method but GET, HEAD, OPTIONS):
 * - must come from the page's own origin: a foreign `Origin` is refused, and so is
 *   a missing one when the request carries cookies (browsers always send `Origin`
 *   on such requests; only a non-browser client omits it, and it has no cookie to
 *   ride on);
 * - may carry a body only as `application/json`, which a cross-site form or
 *   `text/plain` "simple request" cannot produce without a CORS preflight.
 * Checked on `onRequest`, before a session read or a body parse.
 */
import fp from 'fastify-plugin';
import { errorBody } from './error-handler.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export default fp<{ publicOrigin: string }>(
  async (app, { publicOrigin }) => {
    app.addHook('onRequest', async (request, reply) => {
      if (SAFE_METHODS.has(request.method)) return;
      const origin = request.headers.origin;
      if (origin !== undefined ? origin !== publicOrigin : request.headers.cookie !== undefined) {
        return reply
          .status(403)
          .send(errorBody({ code: 'forbidden', message: `Requests that change something must come from ${publicOrigin}` }));
      }
      const type = request.headers['content-type'];
      if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
        return reply.status(415).send(errorBody({ code: 'unsupported_media_type', message: 'Request bodies are application/json' }));
      }
    });
  },
  { name: 'same-origin' },
);
