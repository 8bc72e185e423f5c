/**
 * What huddle counts and times, as a port: transport and adapters report through
 * it; `adapters/metrics/prometheus-metrics.ts` turns it into Prometheus series.
 * Nothing here knows how the figures are exposed.
 */
export type CallService = 'dynamodb' | 's3';

/**
 * Why a frame meant for a socket was not written to it. `slow_socket`: an ephemeral
 * frame (typing, presence) skipped past the soft limit, never recovered.
 * `slow_consumer_closed`: the socket was past the hard limit and is closed with this
 * frame unsent; its client reconnects and syncs.
 */
export type FrameDropReason = 'slow_socket' | 'slow_consumer_closed';

/** `closed`: the subscriber connection dropped (Redis closed it, the network cut it). `stuck`: the self-probe found it deaf. */
export type SubscriberLossCause = 'closed' | 'stuck';

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
  /** The bus's subscriber stopped delivering: whatever was published until it is back never went live. */
  busSubscriberLost(cause: SubscriberLossCause): void;
  frameDropped(reason: FrameDropReason): void;
  /** `sockets` were told to `resync` (they get back by `sync` what did not reach them live). */
  resyncsSent(reason: string, sockets: number): void;
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
  busSubscriberLost() {},
  frameDropped() {},
  resyncsSent() {},
  storageCall() {},
  quotaRefused() {},
  rateLimited() {},
};
