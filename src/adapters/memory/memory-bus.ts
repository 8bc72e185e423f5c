/**
 * The bus of a single instance: no Redis, frames go straight from `publish` to
 * this process's listeners. `onRecovered` never fires, since nothing can drop.
 * Used when `REDIS_URL` is unset and by unit tests.
 */
import type { Bus, BusChannel } from '../../domain/fanout/ports.js';
import { newNodeId } from '../redis/envelope.js';
import { createDeliveryListeners, silentLogger, type AdapterLogger } from '../bus-listeners.js';

export interface MemoryBusOptions {
  /** Where a throwing listener is reported. @default a logger that drops everything */
  logger?: AdapterLogger;
}

export function createMemoryBus(opts: MemoryBusOptions = {}): Bus {
  const nodeId = newNodeId();
  const listeners = createDeliveryListeners(opts.logger ?? silentLogger);
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
