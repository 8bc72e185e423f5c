/**
 * The error catalogue: every failure a client can see, with a stable code and
 * its HTTP status. Domain code throws `AppError`s; HTTP maps them through the root
 * error handler and the WebSocket gateway into `error` frames (see toClientError).
 */
import type { ErrorCode } from '../transport/realtime/protocol.js';

const statusOf: Record<ErrorCode, number> = {
  bad_frame: 400,
  unknown_type: 400,
  invalid: 400,
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  quota_exceeded: 429,
  unauthorized: 401,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = statusOf[code];
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) => new AppError('invalid', message, details);
/** One answer for "no such chat" and "not a member": a refusal must not reveal that a chat exists. */
export const chatNotFound = () => new AppError('not_found', 'No such chat, or you are not a member of it');
export const notFound = (message: string) => new AppError('not_found', message);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);

export interface ClientError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** What a client may learn of an error: AppErrors as they are, anything else as `internal`. */
export function toClientError(err: unknown): ClientError {
  if (err instanceof AppError) {
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  return { code: 'internal', message: 'Something went wrong on our side; try again' };
}
