/**
 * The bus of a single instance: no Redis, frames go straight from `publish` to
 * this process's listeners. `onRecovered` never fires, since nothing can drop.
 * Used when `REDIS_URL` is unset and by unit tests.
 */
import { randomBytes } from 'node:crypto';
import type { Bus, BusChannel, BusFrame } from '../../domain/fanout/ports.js';
import { silentLogger, type Logger } from '../../domain/logger.js';
import { createDeliveryListeners } from '../bus-listeners.js';

export interface MemoryBusOptions {
  /** Where a throwing listener is reported. @default a logger that drops everything */
  logger?: Logger;
  /** This instance's id. @default a random one */
  nodeId?: string;
}

export function createMemoryBus<Frame extends BusFrame = BusFrame>(opts: MemoryBusOptions = {}): Bus<Frame> {
  const nodeId = opts.nodeId ?? randomBytes(8).toString('hex');
  const listeners = createDeliveryListeners<Frame>(opts.logger ?? silentLogger);
  const subscribed = new Set<BusChannel>();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new Error('bus is closed');
  };

  return {
    nodeId,
    async publish(channel, frame) {
      assertOpen();
      if (!subscribed.has(channel)) return;
      listeners.deliver({ channel, frame, json: JSON.stringify(frame), origin: nodeId });
    },
    async subscribe(channel) {
      assertOpen();
      subscribed.add(channel);
    },
    async unsubscribe(channel) {
      assertOpen();
      subscribed.delete(channel);
    },
    onDelivery: listeners.onDelivery,
    onRecovered: listeners.onRecovered,
    async ping() {
      assertOpen();
    },
    async close() {
      closed = true;
      subscribed.clear();
      listeners.clear();
    },
  };
}
