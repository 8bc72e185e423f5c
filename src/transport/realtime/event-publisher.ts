import type { Bus } from '../../domain/fanout/ports.js';
import { chatChannel, userChannel } from '../../domain/fanout/ports.js';
import type { ChatEvents } from '../../domain/events/chat-events.js';

export function busChatEvents(bus: Bus): ChatEvents {
  return {
    toChat: (chatId, frame) => bus.publish(chatChannel(chatId), frame),
    toUser: (userId, frame) => bus.publish(userChannel(userId), frame),
  };
}
