import type { Bus } from '../bus/bus.js';
import { chatChannel, userChannel } from '../bus/bus.js';
import type { ChatEvents } from '../chats/chat-events.js';

export function busChatEvents(bus: Bus): ChatEvents {
  return {
    toChat: (chatId, frame) => bus.publish(chatChannel(chatId), frame),
    toUser: (userId, frame) => bus.publish(userChannel(userId), frame),
  };
}
