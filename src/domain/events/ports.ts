/**
 * What the domain tells the world after a change, and the port it tells it
 * through. The realtime transport turns each event into frames on the bus
 * (`transport/realtime/event-frames.ts`). Delivery is at most once: nothing
 * durable travels only as an event (a stored message is in DynamoDB before its
 * event is published, and clients recover missed ones through `sync`).
 */
import type { ChatSummary, Message, QuotaSummary } from '../../model/index.js';

export type DomainEvent =
  /** A message was stored (and acknowledged to its sender). */
  | { type: 'message.stored'; message: Message }
  /** Someone is typing in a chat (ephemeral). */
  | { type: 'typing'; chatId: string; userId: string; username: string }
  /** A member's read position moved forward. */
  | { type: 'read.moved'; chatId: string; userId: string; seq: number }
  /** A user came online or went offline (their last connection anywhere); told to their chats. */
  | { type: 'presence.changed'; userId: string; online: boolean; chatIds: readonly string[] }
  /** One member's view of a chat that was created or changed (members, title). */
  | { type: 'chat.changed'; userId: string; change: 'created' | 'updated'; chat: ChatSummary }
  /** A user is no longer in a chat (removed, or left). */
  | { type: 'chat.left'; userId: string; chatId: string }
  /** A user's usage or tier changed. */
  | { type: 'quota.changed'; userId: string; quota: QuotaSummary }
  /** A session was signed out: every socket opened with it, on any instance, must close now. */
  | { type: 'session.ended'; userId: string; sessionHash: string };

export type DomainEventType = DomainEvent['type'];

export interface EventPublisher {
  /**
   * Publishes one event to every instance that serves someone concerned. Resolves
   * when the event has left this instance; rejects when it could not (the caller
   * decides whether that matters: it never does for something already stored).
   */
  publish(event: DomainEvent): Promise<void>;
}
