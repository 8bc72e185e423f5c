/**
 * Real-time wiring: @fastify/websocket, the hub, the gateway route, and the
 * instance-wide timers (pings, presence refresh, session checks). `app.drain()`
 * refuses new sockets and closes the open ones (1012) spread over the drain spread;
 * on close, whatever is left closes at once, then the bus.
 */
import fp from 'fastify-plugin';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Config } from '../../config.js';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { EventPublisher } from '../../domain/events/ports.js';
import type { Metrics } from '../../domain/metrics.js';
import type { Bus } from '../../domain/fanout/ports.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import type { PresenceService } from '../../domain/presence/presence-service.js';
import type { QuotasService } from '../../domain/quotas/quotas-service.js';
import type { UsersRepository } from '../../domain/users/ports.js';
import type { SessionService } from '../../domain/sessions/session-service.js';
import { ConnectionHub } from './connection-hub.js';
import { createFrameHandlers } from './frame-handlers.js';
import { registerGateway } from './gateway.js';
import type { ClientLimits, FanoutFrame } from './protocol.js';

/** How often open sockets' sessions are checked against the session table. */
const SESSION_CHECK_INTERVAL_MS = 60_000;
/** How long shutdown waits for clients to answer the close frame. */
const CLOSE_HANDSHAKE_WAIT_MS = 2_000;
/** The drain closes its sockets in steps at least this far apart (one timer per step, not per socket). */
const DRAIN_STEP_MS = 50;

/** Where the drain is told and tells: `/healthz` turns 503 and the gateway refuses upgrades. */
export interface DrainState {
  readonly draining: boolean;
  startDraining(): void;
}

export interface RealtimeOptions {
  settings: Config['realtime'];
  limits: ClientLimits;
  bus: Bus<FanoutFrame>;
  events: EventPublisher;
  chats: ChatsService;
  messages: MessagesService;
  quotas: QuotasService;
  users: Pick<UsersRepository, 'getAccount'>;
  presence: PresenceService;
  sessions: Pick<SessionService, 'validate'>;
  serving: DrainState;
  metrics: Metrics;
}

async function realtimePlugin(app: FastifyInstance, options: RealtimeOptions) {
  const { settings, bus, presence, sessions, serving, metrics } = options;
  const hub = new ConnectionHub(bus, app.log, {
    lastDisconnection: (userId, chatIds) => {
      presence.userDisconnected(userId, chatIds).catch((err) => app.log.warn({ err }, 'presence update failed'));
    },
    messageArrived: (frame) => metrics.messageDelivered((Date.now() - frame.message.createdAt) / 1000),
  });
  metrics.watchOpenSockets(() => hub.socketCount());
  metrics.watchBusSubscriptions(() => hub.stats().subscriptions);
  // Replaces the plugin's own shutdown, which would close sockets without a code.
  await app.register(websocket, {
    options: { maxPayload: settings.maxPayloadBytes, perMessageDeflate: false },
    preClose: async function closeSockets(this: FastifyInstance) {
      await shutDown();
      this.websocketServer.close();
    },
  });
  const handleFrame = createFrameHandlers({
    chats: options.chats,
    messages: options.messages,
    events: options.events,
    clock: () => Date.now(),
    metrics,
  });
  registerGateway(app, {
    settings,
    limits: options.limits,
    nodeId: bus.nodeId,
    hub,
    handleFrame,
    users: options.users,
    chats: options.chats,
    quotas: options.quotas,
    messages: options.messages,
    presence,
    sessions,
    isDraining: () => serving.draining,
    metrics,
  });

  // Whatever the bus lost while Redis was away, clients get back through sync.
  bus.onRecovered(() => {
    metrics.busReconnected();
    const sockets = hub.socketCount();
    app.log.warn({ sockets }, 'bus reconnected: asking every socket to sync');
    hub.broadcast({ type: 'resync', reason: 'bus_reconnected' });
    metrics.resyncsSent('bus_reconnected', sockets);
  });

  const pings = setInterval(() => {
    for (const connection of hub.connections()) connection.ping();
  }, settings.pingIntervalMs);
  pings.unref();

  const sessionChecks = setInterval(() => {
    const bySession = new Map<string, ReturnType<typeof hub.connections>>();
    for (const connection of hub.connections()) {
      const list = bySession.get(connection.user.sessionHash) ?? [];
      list.push(connection);
      bySession.set(connection.user.sessionHash, list);
    }
    for (const [sessionHash, connections] of bySession) {
      sessions
        .validate(sessionHash)
        .then((valid) => {
          if (!valid) for (const connection of connections) connection.close('sessionEnded');
        })
        .catch((err) => app.log.warn({ err }, 'session check failed'));
    }
  }, SESSION_CHECK_INTERVAL_MS);
  sessionChecks.unref();

  const stopPresence = presence.start(() => hub.localUserIds());

  app.decorate('hub', hub);
  app.decorate('drain', drain);

  /**
   * Refuses new sockets, then closes the open ones with 1012 a slice at a time over
   * the spread, so their clients come back through the load balancer to other
   * instances gradually rather than all in the same second. A socket keeps working
   * until its turn; frames it sent before its close are still handled, and their
   * writes finish before the services close.
   */
  async function drain(): Promise<void> {
    serving.startDraining();
    const sockets = hub.connections();
    const steps = Math.max(1, Math.min(sockets.length, Math.floor(settings.drainSpreadMs / DRAIN_STEP_MS)));
    app.log.info({ sockets: sockets.length, spreadMs: settings.drainSpreadMs }, 'draining: closing sockets (1012)');
    for (let step = 0; step < steps; step++) {
      const from = Math.floor((step * sockets.length) / steps);
      const to = Math.floor(((step + 1) * sockets.length) / steps);
      for (const connection of sockets.slice(from, to)) connection.close('serviceRestart');
      if (step < steps - 1) await sleep(settings.drainSpreadMs / steps);
    }
    await handshakesDone();
  }

  async function handshakesDone() {
    const deadline = Date.now() + CLOSE_HANDSHAKE_WAIT_MS;
    while (hub.connections().length > 0 && Date.now() < deadline) await sleep(20);
  }

  /**
   * Whatever sockets are left (all of them when nothing drained first) close with
   * 1012 at once; presence is announced while the bus is still open (it closes in
   * onClose); the close handshakes get a moment before connections are cut.
   */
  async function shutDown() {
    serving.startDraining();
    clearInterval(pings);
    clearInterval(sessionChecks);
    stopPresence();
    const leaving = new Map<string, string[]>();
    for (const connection of hub.connections()) {
      leaving.set(connection.user.userId, [...connection.chatIds]);
      connection.close('serviceRestart');
    }
    await Promise.allSettled([...leaving].map(([userId, chatIds]) => presence.userDisconnected(userId, chatIds)));
    await handshakesDone();
    hub.close();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    hub: ConnectionHub;
    /** Stops taking sockets and closes the open ones spread over the drain spread; `close()` does the rest. */
    drain(): Promise<void>;
  }
}

export default fp(realtimePlugin, { name: 'realtime', dependencies: ['session-auth'] });
