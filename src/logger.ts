import type { LoggerOptions } from 'pino';
import type { Config } from './config.js';

/** Paths pino blanks in every log line: cookies, tokens and authorization headers. */
export const redactPaths = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  '*.accessToken',
  '*.idToken',
  '*.refreshToken',
  '*.access_token',
  '*.id_token',
  '*.refresh_token',
  '*.code_verifier',
  '*.sessionId',
];

/** pino's options: the process logger (built in compose.ts) that Fastify and every service share. */
export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: {
      // Log the path without its query: a callback's query holds the authorization code.
      req: (req: { method: string; url: string; id: string }) => ({
        method: req.method,
        url: req.url.split('?')[0],
        reqId: req.id,
      }),
    },
  };
}
