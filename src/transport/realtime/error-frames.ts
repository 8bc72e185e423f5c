/**
 * The one WebSocket error serializer: an `error` frame answering a client frame.
 * The socket stays open (a reply error); closing a socket is a separate decision
 * made with a close code (see shared/close-codes.ts).
 */
import { toClientError, type ClientError } from '../../model/index.js';
import type { ServerFrame } from './protocol.js';

export interface ErrorContext {
  /** The `id` the client put on the frame, echoed. */
  id?: string | undefined;
  /** The type of the frame this answers. */
  frame?: string | undefined;
  /** What the client needs to match the error to what it sent (chatId, clientMsgId). */
  details?: Record<string, unknown>;
}

export function errorFrame(error: ClientError, context: ErrorContext = {}): ServerFrame {
  const details = { ...error.details, ...context.details };
  return {
    type: 'error',
    ...(context.id !== undefined ? { id: context.id } : {}),
    code: error.code,
    message: error.message,
    ...(context.frame !== undefined ? { frame: context.frame } : {}),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}

/** An `error` frame for anything thrown: AppErrors as they are, the rest as `internal`. */
export function errorFrameFor(err: unknown, context: ErrorContext = {}): ServerFrame {
  return errorFrame(toClientError(err), context);
}
