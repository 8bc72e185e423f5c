/**
 * What huddle counts and times, as a port: transport and adapters report through
 * it; `adapters/metrics/prometheus-metrics.ts` turns it into Prometheus series.
 * Nothing here knows how the figures are exposed.
 */
export type CallService = 'dynamodb' | 's3';

export interface Metrics {
  /** Read when the metrics are collected. */
  watchOpenSockets(read: () => number): void;
  watchBusSubscriptions(read: () => number): void;
  frameReceived(type: string): void;
  frameSent(type: string): void;
  /** From the start of handling a `send` to its ack going out. */
  sendAcked(seconds: number): void;
  /** From a message's storage time to this instance writing it to its local sockets. */
  messageDelivered(seconds: number): void;
  messagesPersisted(count: number): void;
  busReconnected(): void;
  /** One call to a storage service as the code sees it (retries included); `error` names the failure. */
  storageCall(service: CallService, operation: string, seconds: number, error?: string): void;
  quotaRefused(): void;
  rateLimited(where: 'socket' | 'http'): void;
}

export const noMetrics: Metrics = {
  watchOpenSockets() {},
  watchBusSubscriptions() {},
  frameReceived() {},
  frameSent() {},
  sendAcked() {},
  messageDelivered() {},
  messagesPersisted() {},
  busReconnected() {},
  storageCall() {},
  quotaRefused() {},
  rateLimited() {},
};
