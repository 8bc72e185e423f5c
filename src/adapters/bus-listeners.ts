/** How both buses call their listeners. */
import type { BusDelivery, BusFrame, BusListener } from '../domain/fanout/ports.js';
import type { Logger } from '../domain/logger.js';

/**
 * Calls every listener with each delivery. One listener throwing must not keep
 * the others (other sockets, other chats) from their frames, so each call is
 * fenced and the error logged.
 */
export function createDeliveryListeners<Frame extends BusFrame>(logger: Logger) {
  const deliveryListeners: BusListener<Frame>[] = [];
  const recoveredListeners: Array<() => void> = [];
  return {
    onDelivery: (listener: BusListener<Frame>) => {
      deliveryListeners.push(listener);
    },
    onRecovered: (listener: () => void) => {
      recoveredListeners.push(listener);
    },
    deliver(delivery: BusDelivery<Frame>) {
      for (const listener of deliveryListeners) {
        try {
          listener(delivery);
        } catch (err) {
          logger.error({ err, channel: delivery.channel, frameType: delivery.frame.type }, 'bus listener threw');
        }
      }
    },
    recovered() {
      for (const listener of recoveredListeners) {
        try {
          listener();
        } catch (err) {
          logger.error({ err }, 'bus recovery listener threw');
        }
      }
    },
    clear() {
      deliveryListeners.length = 0;
      recoveredListeners.length = 0;
    },
  };
}
