/** What the bus adapters share: their logger's shape and how listeners are called. */
import type { BusDelivery, BusListener } from '../domain/fanout/ports.js';

/** The pino methods the adapters use; a Fastify logger or a pino child fits. */
export interface AdapterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: AdapterLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Calls every listener with each delivery. One listener throwing must not keep
 * the others (other sockets, other chats) from their frames, so each call is
 * fenced and the error logged.
 */
export function createDeliveryListeners(logger: AdapterLogger) {
  const deliveryListeners: BusListener[] = [];
  const recoveredListeners: Array<() => void> = [];
  return {
    onDelivery(listener: BusListener) {
      deliveryListeners.push(listener);
    },
    onRecovered(listener: () => void) {
      recoveredListeners.push(listener);
    },
    deliver(delivery: BusDelivery) {
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
