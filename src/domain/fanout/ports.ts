/**
 * The bus carries frames between instances. Implementations:
 * `adapters/redis/redis-bus.ts` (Redis pub/sub, one publisher and one subscriber
 * connection) and `adapters/memory/memory-bus.ts` (one process). Both pass
 * `test/contract/bus.test.ts`. A frame is any JSON object with a string `type`;
 * the realtime transport decides which frames exist.
 *
 * Contract:
 * - Delivery is at most once. A published frame reaches every instance subscribed
 *   to its channel at the moment Redis handles the PUBLISH, each exactly once or not
 *   at all. Anything durable (messages) is persisted before it is published, and
 *   clients recover what the bus drops through `sync`.
 * - The publishing instance's own subscribers get the frame synchronously inside
 *   `publish` (before it returns), and the copy that comes back from Redis is dropped
 *   by node id, so no instance delivers a frame twice.
 * - Frames from one publisher on one channel arrive in publish order. Frames from
 *   different publishers may interleave in any order: clients order messages by seq.
 * - `subscribe` resolves only once the subscription is active, so a caller that reads
 *   the store after it cannot miss a frame published in between ("subscribe, then
 *   read"). Subscriptions are sets, not counters: callers count (see
 *   `transport/realtime/connection-hub.ts`).
 * - After the connection to Redis drops and comes back, the bus re-subscribes every
 *   channel it held and then calls the `onRecovered` listeners: frames published
 *   while it was away are gone, and whoever serves clients must tell them to sync.
 *   A subscription that looks alive and delivers nothing counts as dropped: the
 *   Redis bus finds it with a self-probe, re-opens it, and recovers the same way.
 * - The bus owns its connections: `close` quits them.
 */

/** What travels on the bus: a JSON object with a string `type`. */
export interface BusFrame {
  readonly type: string;
}

/** A chat's channel carries its messages, typing, receipts and presence of its members. */
export type BusChannel = `chat:${string}` | `user:${string}`;

export const chatChannel = (chatId: string): BusChannel => `chat:${chatId}`;
export const userChannel = (userId: string): BusChannel => `user:${userId}`;

export interface BusDelivery<Frame extends BusFrame = BusFrame> {
  channel: BusChannel;
  frame: Frame;
  /** The frame serialized once, exactly as it goes to sockets. */
  json: string;
  /** Node id of the publishing instance. */
  origin: string;
}

export type BusListener<Frame extends BusFrame = BusFrame> = (delivery: BusDelivery<Frame>) => void;

export interface Bus<Frame extends BusFrame = BusFrame> {
  /** Unique per process; travels in every envelope. */
  readonly nodeId: string;
  publish(channel: BusChannel, frame: Frame): Promise<void>;
  subscribe(channel: BusChannel): Promise<void>;
  unsubscribe(channel: BusChannel): Promise<void>;
  /** Listeners must not throw; a listener that does is logged and the others still run. */
  onDelivery(listener: BusListener<Frame>): void;
  /** Called after a reconnect once every subscription is active again. */
  onRecovered(listener: () => void): void;
  /**
   * Resolves when the bus can publish and subscribe (readiness probe). Rejects with a
   * `BusNotReadyError` when it knows why more precisely than "Redis did not answer".
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Why the bus is not ready, as a short code the readiness probe can show (`reason`), with the details in `message`. */
export class BusNotReadyError extends Error {
  constructor(
    readonly reason: 'bus_subscription_stuck',
    message: string,
  ) {
    super(message);
    this.name = 'BusNotReadyError';
  }
}
