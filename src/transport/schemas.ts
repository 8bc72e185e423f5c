/**
 * Field schemas both transports validate with (WebSocket frames and HTTP routes),
 * so a limit is written once. Every number is bounded to a safe integer: a value
 * past 2^53 cannot be compared or stored exactly.
 */
import { Type, type IntegerOptions } from '@sinclair/typebox';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../shared/frames.js';

/**
 * An integer no larger than 2^53 - 1 that HTTP validation also refuses as Infinity
 * (see `http/safe-integer-keyword.ts`).
 */
export const SafeInteger = (options: IntegerOptions = {}) =>
  Type.Integer({ maximum: Number.MAX_SAFE_INTEGER, ...options, safeInteger: true });

export const ChatId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' });
export const SeqField = SafeInteger({ minimum: 0 });
/** Client-chosen id of one outgoing message; a retry reuses it. */
export const ClientMsgId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** Optional correlation id a client puts on a frame; replies and errors echo it. */
export const FrameId = Type.Optional(Type.String({ maxLength: 64 }));
export const HistoryLimit = SafeInteger({ minimum: 1, maximum: HISTORY_PAGE_MAX, default: HISTORY_PAGE_DEFAULT });
/** History before this seq (exclusive). */
export const HistoryBefore = SafeInteger({ minimum: 1 });
