/**
 * Field schemas both transports validate with (WebSocket frames and HTTP routes),
 * so a limit is written once. Every number is bounded to a safe integer: a value
 * past 2^53 cannot be compared or stored exactly.
 */
import { Type } from '@sinclair/typebox';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../shared/frames.js';

export const ChatId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' });
export const SeqField = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Client-chosen id of one outgoing message; a retry reuses it. */
export const ClientMsgId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** Optional correlation id a client puts on a frame; replies and errors echo it. */
export const FrameId = Type.Optional(Type.String({ maxLength: 64 }));
export const HistoryLimit = Type.Integer({ minimum: 1, maximum: HISTORY_PAGE_MAX, default: HISTORY_PAGE_DEFAULT });
/** History before this seq (exclusive). */
export const HistoryBefore = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
