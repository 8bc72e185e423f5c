/**
 * The one HTTP error serializer: `{ error: { code, message, details? } }` with the
 * status from the error catalogue, or, for a browser navigating to a sign-in
 * route, a short page saying the same. Validation errors and statuses below 500
 * pass their message through; anything else is logged and genericized so no
 * driver message or stack reaches a client.
 */
import fp from 'fastify-plugin';
import type { Metrics } from '../../domain/metrics.js';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, codeForStatus, INTERNAL_MESSAGE, toClientError, type ClientError } from '../../model/index.js';
import { escapeHtml } from '../../shared/html.js';

export function errorBody(error: ClientError) {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/** A browser navigating (Accept names text/html) gets a page; fetch, scripts and sockets get JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && /\btext\/html\b/i.test(accept);
}

function errorPage(error: ClientError): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>huddle: sign-in problem</title>
<link rel="stylesheet" href="/styles.css">
</head><body>
<h1>${error.code === 'unauthorized' ? 'Please sign in' : 'Sign-in problem'}</h1>
<p>${escapeHtml(error.message)}</p>
<p><a href="/login">Sign in</a></p>
</body></html>`;
}

/**
 * Answers a sign-in or session failure: the JSON body plus `login: '/login'`, or a
 * page with a link back to /login for a browser. Never cached.
 */
export function sendSignInError(request: FastifyRequest, reply: FastifyReply, err: AppError): FastifyReply {
  const error = toClientError(err);
  reply.code(err.statusCode).header('cache-control', 'no-store');
  if (prefersHtml(request.headers.accept)) return reply.type('text/html; charset=utf-8').send(errorPage(error));
  const body = errorBody(error);
  return reply.send({ error: { ...body.error, login: '/login' } });
}

export default fp(
  async (app, { metrics }: { metrics: Pick<Metrics, 'quotaRefused'> }) => {
    app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
      if (err instanceof AppError) {
        if (err.code === 'quota_exceeded') metrics.quotaRefused();
        return reply.status(err.statusCode).send(errorBody(toClientError(err)));
      }
      if ('validation' in err && err.validation) {
        return reply.status(400).send(errorBody({ code: 'invalid', message: err.message }));
      }
      const status = err.statusCode ?? 500;
      if (status < 500) {
        const code = codeForStatus(status);
        return reply.status(status).send(errorBody({ code, message: err.message }));
      }
      request.log.error({ err }, 'request failed');
      return reply.status(500).send(errorBody({ code: 'internal', message: INTERNAL_MESSAGE }));
    });
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).send(errorBody({ code: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` }));
    });
  },
  { name: 'error-handler' },
);
