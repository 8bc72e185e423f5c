/**
 * The error catalogue: every failure a client can see, with a stable code and its
 * HTTP status, in one table. Domain code throws `AppError`s built from it; the HTTP
 * error handler and the WebSocket gateway serialize them (each through one
 * function), and anything that is not an `AppError` reaches clients as `internal`.
 */

export const errorCatalogue = {
  // ---------- the request itself
  bad_frame: { status: 400, summary: 'not JSON, not an object, binary, or nested too deep' },
  unknown_type: { status: 400, summary: 'a frame type the server does not know' },
  invalid: { status: 400, summary: 'a field is missing or out of range', forStatus: true },
  too_large: { status: 413, summary: 'a message or file over its size limit', forStatus: true },
  unsupported_media_type: { status: 415, summary: 'a request body that is not JSON', forStatus: true },
  // ---------- who is asking
  unauthorized: { status: 401, summary: 'no valid session', forStatus: true },
  forbidden: { status: 403, summary: 'allowed to see it, not to do this', forStatus: true },
  not_found: { status: 404, summary: 'no such thing, or not yours to see', forStatus: true },
  // ---------- state and limits
  conflict: { status: 409, summary: 'the state changed meanwhile', forStatus: true },
  rate_limited: { status: 429, summary: 'too many requests or frames', forStatus: true },
  quota_exceeded: { status: 429, summary: "over the tier's message or storage quota" },
  // ---------- the server
  unavailable: { status: 503, summary: 'a dependency is down or overloaded; retry', forStatus: true },
  internal: { status: 500, summary: 'a bug or an unforeseen failure', forStatus: true },
} as const satisfies Record<string, { status: number; summary: string; forStatus?: true }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const ERROR_CODES = Object.keys(errorCatalogue) as ErrorCode[];

export class AppError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.statusCode = errorCatalogue[code].status;
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) => new AppError('invalid', message, details);
export const tooLarge = (message: string, details?: Record<string, unknown>) => new AppError('too_large', message, details);
/** One answer for "no such chat" and "not a member": a refusal must not reveal that a chat exists. */
export const chatNotFound = () => new AppError('not_found', 'No such chat, or you are not a member of it');
export const notFound = (message: string) => new AppError('not_found', message);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);
export const unauthorized = (message = 'Sign in to continue.') => new AppError('unauthorized', message);
export const rateLimited = (message: string, details?: Record<string, unknown>) => new AppError('rate_limited', message, details);
export const unavailable = (message: string, details?: Record<string, unknown>) => new AppError('unavailable', message, details);

/**
 * The code a bare HTTP status stands for, for errors the framework raises rather
 * than huddle (an oversize body, a wrong content type): the entry marked `forStatus`.
 */
export function codeForStatus(status: number): ErrorCode {
  const found = ERROR_CODES.find((code) => {
    const entry: { status: number; forStatus?: true } = errorCatalogue[code];
    return entry.forStatus === true && entry.status === status;
  });
  return found ?? (status >= 500 ? 'internal' : 'invalid');
}

export interface ClientError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export const INTERNAL_MESSAGE = 'Something went wrong on our side; try again';

/** What a client may learn of an error: AppErrors as they are, anything else as `internal`. */
export function toClientError(err: unknown): ClientError {
  if (err instanceof AppError) {
    return { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  return { code: 'internal', message: INTERNAL_MESSAGE };
}
