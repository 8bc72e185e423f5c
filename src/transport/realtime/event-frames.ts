/**
 * Domain events become frames here, and only here: which channel hears each
 * event and what the frame says. The publisher serializes each frame once (the
 * bus sends that string to every socket), so an event costs one serialization
 * however many people receive it.
 */
import type { DomainEvent, EventPublisher } from '../../domain/events/ports.js';
import { chatChannel, userChannel, type Bus, type BusChannel } from '../../domain/fanout/ports.js';
import type { FanoutFrame, ServerFrame } from './protocol.js';

export interface ChannelFrame {
  channel: BusChannel;
  frame: FanoutFrame;
}

export function framesOf(event: DomainEvent): ChannelFrame[] {
  switch (event.type) {
    case 'message.stored':
      return [{ channel: chatChannel(event.message.chatId), frame: { type: 'message', message: event.message } }];
    case 'typing':
      return [
        {
          channel: chatChannel(event.chatId),
          frame: { type: 'typing', chatId: event.chatId, userId: event.userId, username: event.username },
        },
      ];
    case 'read.moved':
      return [
        { channel: chatChannel(event.chatId), frame: { type: 'receipt', chatId: event.chatId, userId: event.userId, seq: event.seq } },
      ];
    case 'presence.changed': {
      // One frame object for every chat: the hub sends each socket at most one per user anyway.
      const frame: ServerFrame = { type: 'presence', userId: event.userId, online: event.online };
      return event.chatIds.map((chatId) => ({ channel: chatChannel(chatId), frame }));
    }
    case 'chat.changed':
      return [{ channel: userChannel(event.userId), frame: { type: 'chat', change: event.change, chat: event.chat } }];
    case 'chat.left':
      return [{ channel: userChannel(event.userId), frame: { type: 'chat', change: 'removed', chat: { chatId: event.chatId } } }];
    case 'quota.changed':
      return [{ channel: userChannel(event.userId), frame: { type: 'quota', quota: event.quota } }];
    case 'session.ended':
      // On the user's channel: every instance holding a socket of that user hears it.
      return [{ channel: userChannel(event.userId), frame: { type: 'session_ended', sessionHash: event.sessionHash } }];
  }
}

/** Publishes domain events as frames on the bus. */
export function createBusEventPublisher(bus: Bus<FanoutFrame>): EventPublisher {
  return {
    async publish(event) {
      await Promise.all(framesOf(event).map(({ channel, frame }) => bus.publish(channel, frame)));
    },
  };
}
