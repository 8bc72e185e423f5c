/** A user's usage against their tier's limits, as they see it. */
import { Type, type Static } from '@sinclair/typebox';
import { Tier } from './user.js';

export const QuotaSummary = Type.Object({
  tier: Tier,
  messagesToday: Type.Integer({ minimum: 0 }),
  messagesPerDay: Type.Integer({ minimum: 0 }),
  /** When the daily message window starts again, epoch milliseconds (next UTC midnight). */
  resetsAt: Type.Integer(),
  storageBytes: Type.Integer({ minimum: 0 }),
  storageLimitBytes: Type.Integer({ minimum: 0 }),
});
export type QuotaSummary = Static<typeof QuotaSummary>;
