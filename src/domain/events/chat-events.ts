import type { ServerFrame } from '../../transport/realtime/protocol.js';

/**
 * Where domain services send what members must hear about. Implemented over the
 * bus (`realtime/bus-events.ts`); delivery is at most once, so nothing durable
 * travels only here.
 */
export interface ChatEvents {
  /** Every member of the chat connected anywhere. */
  toChat(chatId: string, frame: ServerFrame): Promise<void>;
  /** Every socket of one user, anywhere. */
  toUser(userId: string, frame: ServerFrame): Promise<void>;
}
