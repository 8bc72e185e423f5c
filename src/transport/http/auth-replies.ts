import type { FastifyReply, FastifyRequest } from 'fastify';

export type AuthErrorCode = 'invalid' | 'unauthorized' | 'forbidden' | 'unavailable';

/** A browser navigating (Accept names text/html) gets a page; fetch, scripts and sockets get JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && /\btext\/html\b/i.test(accept);
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function errorPage(status: number, message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>huddle: sign-in problem</title>
<link rel="stylesheet" href="/styles.css">
</head><body>
<h1>${status === 401 ? 'Please sign in' : 'Sign-in problem'}</h1>
<p>${escapeHtml(message)}</p>
<p><a href="/login">Sign in</a></p>
</body></html>`;
}

/**
 * Answers a sign-in or session failure: `{ error: { code, message, login: '/login' } }`
 * as JSON, or a short page with a link back to /login for a browser. Never cached.
 */
export function sendAuthError(request: FastifyRequest, reply: FastifyReply, status: number, code: AuthErrorCode, message: string): FastifyReply {
  reply.code(status).header('cache-control', 'no-store');
  if (prefersHtml(request.headers.accept)) {
    return reply.type('text/html; charset=utf-8').send(errorPage(status, message));
  }
  return reply.send({ error: { code, message, login: '/login' } });
}
