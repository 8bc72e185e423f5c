import fp from 'fastify-plugin';
import type { FastifyError } from 'fastify';
import { AppError } from '../../model/errors.js';

/**
 * Errors become JSON `{ error: { code, message } }`. Validation errors and anything
 * below 500 pass through with their message; the rest is logged and genericized so
 * no driver message or stack reaches a client.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError | AppError, request, reply) => {
      if (err instanceof AppError) {
        return reply
          .status(err.statusCode)
          .send({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
      }
      const status = err.statusCode ?? 500;
      if ('validation' in err && err.validation) {
        return reply.status(400).send({ error: { code: 'invalid', message: err.message } });
      }
      if (status < 500) {
        const code = status === 429 ? 'rate_limited' : status === 413 ? 'too_large' : status === 401 ? 'unauthorized' : 'invalid';
        return reply.status(status).send({ error: { code, message: err.message } });
      }
      request.log.error({ err }, 'request failed');
      return reply.status(500).send({ error: { code: 'internal', message: 'Something went wrong on our side; try again' } });
    });
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` } });
    });
  },
  { name: 'error-handler' },
);
