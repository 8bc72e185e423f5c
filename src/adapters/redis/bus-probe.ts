/**
 * The bus's self-probe: each instance publishes a tiny token on a channel of its
 * own and expects its subscriber connection to hear it back. A subscriber can look
 * alive (the connection open, Redis answering the publisher) and deliver nothing:
 * a frozen TCP flow, subscriptions reset behind the client's back. Nothing else
 * notices that, because pub/sub never says what it did not deliver.
 *
 * One probe is in flight at a time and gets one interval to come back. A probe
 * whose PUBLISH Redis acknowledged and that did not come back means the
 * subscription is stuck: the owner re-opens the subscriber connection, and the
 * bus reports itself not ready until a probe comes back again. A probe whose
 * PUBLISH got no answer says nothing about the subscription: it is not judged,
 * and no new probe piles up behind it. If the publisher's connection still looks
 * open after a whole interval without that answer, the connection itself is
 * frozen (no FIN, no RST: ioredis would wait for TCP keepalive, hours), so the
 * owner re-opens it, and the PUBLISHes it held are sent again on the new one.
 * While Redis is really away the connection does not look open, and its own
 * reconnect path is left to work.
 */
import type { Logger } from '../../domain/logger.js';

export interface BusProbeOptions {
  intervalMs: number;
  /** Publishes `token` on this instance's probe channel; resolves when Redis acknowledged the PUBLISH. */
  publish(token: string): Promise<unknown>;
  /** The subscription is stuck: re-open the subscriber connection. Called again each interval it stays stuck. */
  restore(): void;
  /** Once per stuck episode, for the metric. */
  onStuck(): void;
  /** Whether the publisher's connection looks open: an unanswered PUBLISH then means it is frozen, not reconnecting. */
  publisherLooksConnected(): boolean;
  /** The publisher's connection is frozen: re-open it. Called again each interval it stays so. */
  restorePublisher(): void;
  logger: Logger;
  now?: () => number;
}

export interface BusProbe {
  /** Sends the first probe; call once the probe channel is subscribed. */
  start(): void;
  /** A probe token came back on the probe channel. */
  received(token: string): void;
  /** Sends a fresh probe at once (after a recovery), so readiness need not wait a whole interval. */
  probeNow(): void;
  /** Why the bus should not be called ready, or undefined when the last probe came back. */
  stuckReason(): string | undefined;
  stop(): void;
}

interface InFlight {
  token: string;
  acknowledged: boolean;
}

export function createBusProbe(opts: BusProbeOptions): BusProbe {
  const now = opts.now ?? Date.now;
  const log = opts.logger;
  let counter = 0;
  let inFlight: InFlight | undefined;
  let stuckSince: number | undefined;
  let restores = 0;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;

  function send() {
    const probe: InFlight = { token: String(++counter), acknowledged: false };
    inFlight = probe;
    opts.publish(probe.token).then(
      () => (probe.acknowledged = true),
      // Redis or the publisher is away: the readiness ping reports it; nothing to judge here.
      () => {},
    );
  }

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(check, opts.intervalMs);
    timer.unref();
  }

  function check() {
    const missed = inFlight;
    if (missed?.acknowledged) {
      restores += 1;
      if (stuckSince === undefined) {
        stuckSince = now();
        opts.onStuck();
        log.warn(
          { intervalMs: opts.intervalMs },
          'bus subscription stuck: a probe Redis acknowledged did not come back; re-opening the subscriber connection',
        );
      } else {
        log.warn(
          { stuckForMs: now() - stuckSince, attempt: restores },
          'bus subscription still stuck; re-opening the subscriber connection again',
        );
      }
      opts.restore();
    }
    if (missed && !missed.acknowledged && opts.publisherLooksConnected()) {
      log.warn(
        { intervalMs: opts.intervalMs },
        'bus publisher frozen: a probe PUBLISH got no answer on a connection that looks open; re-opening the publisher connection',
      );
      opts.restorePublisher();
    }
    // An unacknowledged probe may still be waiting on the publisher: no second one behind it.
    if (!missed || missed.acknowledged) send();
    schedule();
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      send();
      schedule();
    },
    received(token) {
      if (token !== inFlight?.token) return; // a late one from an earlier round
      inFlight = undefined;
      if (stuckSince !== undefined) {
        log.info({ stuckForMs: now() - stuckSince, restores }, 'bus subscription delivers again: a probe came back');
        stuckSince = undefined;
        restores = 0;
      }
    },
    probeNow() {
      if (!started || stopped) return;
      send();
      schedule();
    },
    stuckReason() {
      if (stuckSince === undefined) return undefined;
      return `the bus subscription is stuck: no probe came back for ${now() - stuckSince + opts.intervalMs} ms`;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
