/**
 * The metrics port as Prometheus series (prom-client), in a registry of its own so
 * that several instances in one process (tests) keep their figures apart. Names
 * start with `huddle_`; the process and event-loop series are prom-client's defaults
 * (`nodejs_eventloop_lag_p99_seconds`, `process_resident_memory_bytes`, ...).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallService, FrameDropReason, Metrics } from '../../domain/metrics.js';

/** Seconds: a send's ack is milliseconds when healthy and seconds when DynamoDB struggles. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PrometheusMetrics extends Metrics {
  readonly contentType: string;
  /** The current figures in Prometheus text format. */
  render(): Promise<string>;
}

export function createPrometheusMetrics(): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  let openSockets = () => 0;
  let busSubscriptions = () => 0;
  new Gauge({
    name: 'huddle_open_sockets',
    help: 'WebSockets open on this instance.',
    registers,
    collect() {
      this.set(openSockets());
    },
  });
  new Gauge({
    name: 'huddle_bus_subscriptions',
    help: 'Bus channels this instance is subscribed to.',
    registers,
    collect() {
      this.set(busSubscriptions());
    },
  });
  const frames = new Counter({
    name: 'huddle_ws_frames_total',
    help: 'WebSocket frames by direction (in, out) and frame type.',
    labelNames: ['direction', 'type'] as const,
    registers,
  });
  // Called once per frame per socket, on the fan-out path: the labelled child is looked up once per
  // (direction, type) instead of prom-client hashing the labels on every call. Types are the protocol's few.
  const frameCounters = new Map<string, ReturnType<typeof frames.labels>>();
  const frameCounter = (direction: 'in' | 'out', type: string) => {
    const key = `${direction} ${type}`;
    let child = frameCounters.get(key);
    if (!child) frameCounters.set(key, (child = frames.labels({ direction, type })));
    return child;
  };
  const sendAck = new Histogram({
    name: 'huddle_send_ack_seconds',
    help: 'From handling a send to its ack going out.',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const sendDelivery = new Histogram({
    name: 'huddle_send_delivery_seconds',
    help: "From a message's storage time to its delivery to this instance's sockets.",
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const persisted = new Counter({ name: 'huddle_messages_persisted_total', help: 'Messages stored by this instance.', registers });
  const busReconnects = new Counter({
    name: 'huddle_bus_reconnects_total',
    help: 'Times the bus got Redis back after losing it.',
    registers,
  });
  const subscriberLosses = new Counter({
    name: 'huddle_bus_subscriber_lost_total',
    help: 'Times the bus subscriber stopped delivering, by cause: closed (connection dropped) or stuck (found by the self-probe).',
    labelNames: ['cause'] as const,
    registers,
  });
  const framesDropped = new Counter({
    name: 'huddle_frames_dropped_total',
    help: 'Frames not written to a socket, by reason: slow_socket (ephemeral, skipped) or slow_consumer_closed (socket closed, client syncs).',
    labelNames: ['reason'] as const,
    registers,
  });
  // Reasons are few and fixed; children are looked up once, as for frames (this runs on the fan-out path).
  const dropCounters = new Map<FrameDropReason, ReturnType<typeof framesDropped.labels>>();
  const resyncs = new Counter({
    name: 'huddle_resyncs_sent_total',
    help: 'Sockets told to resync (they fetch by sync what did not reach them live), by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const calls = new Histogram({
    name: 'huddle_storage_call_seconds',
    help: 'DynamoDB and S3 calls by service and operation, retries included.',
    labelNames: ['service', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const callErrors = new Counter({
    name: 'huddle_storage_call_errors_total',
    help: 'DynamoDB and S3 calls that failed, by service, operation and error name.',
    labelNames: ['service', 'operation', 'error'] as const,
    registers,
  });
  const quotaRefusals = new Counter({
    name: 'huddle_quota_refusals_total',
    help: 'Sends and uploads refused for a used-up quota.',
    registers,
  });
  const rateLimited = new Counter({
    name: 'huddle_rate_limited_total',
    help: 'Frames (socket) and requests (http) refused for coming too fast.',
    labelNames: ['where'] as const,
    registers,
  });

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    watchOpenSockets: (read) => (openSockets = read),
    watchBusSubscriptions: (read) => (busSubscriptions = read),
    frameReceived: (type) => frameCounter('in', type).inc(),
    frameSent: (type) => frameCounter('out', type).inc(),
    sendAcked: (seconds) => sendAck.observe(seconds),
    messageDelivered: (seconds) => sendDelivery.observe(Math.max(0, seconds)),
    messagesPersisted: (count) => persisted.inc(count),
    busReconnected: () => busReconnects.inc(),
    busSubscriberLost: (cause) => subscriberLosses.inc({ cause }),
    frameDropped(reason) {
      let child = dropCounters.get(reason);
      if (!child) dropCounters.set(reason, (child = framesDropped.labels({ reason })));
      child.inc();
    },
    resyncsSent: (reason, sockets) => resyncs.inc({ reason }, sockets),
    storageCall(service: CallService, operation: string, seconds: number, error?: string) {
      calls.observe({ service, operation }, seconds);
      if (error) callErrors.inc({ service, operation, error });
    },
    quotaRefused: () => quotaRefusals.inc(),
    rateLimited: (where) => rateLimited.inc({ where }),
  };
}
