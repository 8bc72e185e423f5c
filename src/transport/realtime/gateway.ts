/**
 * The `/ws` route: authentication at upgrade, one ClientConnection per socket,
 * frames decoded and handled one at a time per socket (so a client's sends keep
 * their order), errors answered with `error` frames.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Config } from '../../config.js';
import type { Tier } from '../../model/index.js';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { PresenceService } from '../../domain/presence/presence-service.js';
import type { QuotasService } from '../../domain/quotas/quotas-service.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import type { SessionService } from '../../domain/sessions/session-service.js';
import type { UsersRepository } from '../../domain/users/ports.js';
import type { Metrics } from '../../domain/metrics.js';
import { errorBody } from '../http/error-handler.js';
import { ClientConnection } from './client-connection.js';
import type { ConnectionHub } from './connection-hub.js';
import { errorFrame, errorFrameFor } from './error-frames.js';
import { decodeClientFrame } from './frame-decoder.js';
import type { FrameHandler } from './frame-handlers.js';
import type { ClientLimits } from './protocol.js';
import { releaseUpgradeObjects, rememberUpgradeResponse } from './upgrade-objects.js';

export interface GatewayDeps {
  settings: Config['realtime'];
  /** This instance's id, told to clients in `hello`. */
  nodeId: string;
  /** Told to clients in `hello`. */
  limits: ClientLimits;
  hub: ConnectionHub;
  handleFrame: FrameHandler;
  users: Pick<UsersRepository, 'getAccount'>;
  chats: Pick<ChatsService, 'summariesOf'>;
  quotas: Pick<QuotasService, 'summaryOf'>;
  messages: Pick<MessagesService, 'noteUsage'>;
  presence: Pick<PresenceService, 'userConnected' | 'onlineAmong'>;
  sessions: Pick<SessionService, 'validate'>;
  /** True once this instance drains: new sockets belong on another instance. */
  isDraining: () => boolean;
  metrics: Pick<Metrics, 'frameReceived' | 'frameSent' | 'frameDropped' | 'rateLimited' | 'quotaRefused'>;
}

export function registerGateway(app: FastifyInstance, deps: GatewayDeps): void {
  const { settings, hub, handleFrame } = deps;
  const allowedOrigins = new Set(settings.allowedOrigins);

  /** Sockets per user on this instance, counted from the upgrade (before set-up) to the close. */
  const socketsOf = new Map<string, number>();

  async function checkSocketCap(request: FastifyRequest, reply: FastifyReply) {
    const open = socketsOf.get(request.user!.userId) ?? 0;
    if (open >= settings.maxSocketsPerUser) {
      return reply
        .status(429)
        .send(errorBody({ code: 'rate_limited', message: `At most ${settings.maxSocketsPerUser} open connections per user; close a tab` }));
    }
  }

  async function refuseWhileDraining(_request: FastifyRequest, reply: FastifyReply) {
    if (deps.isDraining()) {
      return reply.status(503).send(errorBody({ code: 'unavailable', message: 'This instance is shutting down; connect again' }));
    }
  }

  async function checkOrigin(request: FastifyRequest, reply: FastifyReply) {
    const origin = request.headers.origin;
    if (!origin || !allowedOrigins.has(origin)) {
      return reply.status(403).send(errorBody({ code: 'forbidden', message: 'This origin may not open a socket here' }));
    }
  }

  /**
   * Everything a new socket needs before its first frame is handled: one read of the
   * user's row (chat list and usage together), one batch read of the chats, presence.
   * Reads of many sockets connecting at once share their DynamoDB requests.
   */
  async function setUp(connection: ClientConnection): Promise<void> {
    const { userId } = connection.user;
    const account = await deps.users.getAccount(userId);
    if (!account) throw new Error('signed-in user has no row');
    const summaries = await deps.chats.summariesOf(userId, account.chatIds);
    const chatIds = summaries.map((c) => c.chatId);
    const first = await hub.add(connection, chatIds);
    // A sign-out published after the upgrade read the session but before this socket
    // listened on the user's channel reached nobody here: one read after subscribing
    // closes that gap (reads of sockets opening together share one request).
    if (!(await deps.sessions.validate(connection.user.sessionHash))) {
      connection.close('sessionEnded');
      return;
    }
    // Registered as online before `hello`: a client that has its hello counts as a tab.
    if (first) await deps.presence.userConnected(userId, chatIds);
    if (connection.closed) return;
    const quota = deps.quotas.summaryOf(account.usage);
    deps.messages.noteUsage(userId, quota);
    const user = publicUser(connection, quota.tier);
    connection.send({ type: 'hello', nodeId: deps.nodeId, user, quota, chats: summaries, limits: deps.limits, serverTime: Date.now() });
    const memberIds = [...new Set(summaries.flatMap((c) => c.members.map((m) => m.userId)))].filter((id) => id !== userId);
    await sendOnlinePresence(connection, memberIds);
  }

  function publicUser(connection: ClientConnection, tier: Tier) {
    const { userId, username } = connection.user;
    return { userId, username, tier, ...(connection.user.email ? { email: connection.user.email } : {}) };
  }

  async function sendOnlinePresence(connection: ClientConnection, memberIds: string[]) {
    if (memberIds.length === 0) return;
    const online = await deps.presence.onlineAmong(memberIds);
    for (const id of online) {
      if (connection.presenceSent.get(id) === true) continue;
      connection.presenceSent.set(id, true);
      connection.send({ type: 'presence', userId: id, online: true });
    }
  }

  hub.listeners.joinedChat = (connection, memberIds) => {
    sendOnlinePresence(
      connection,
      memberIds.filter((id) => id !== connection.user.userId),
    ).catch((err) => connection.log.warn({ err }, 'could not send presence for a new chat'));
  };

  /**
   * Handles one raw frame and never rejects: the per-socket chain has nothing after
   * it to catch a rejection, and an unhandled one would end the process and every
   * socket on this instance with it.
   */
  async function handleRaw(connection: ClientConnection, raw: string): Promise<void> {
    try {
      await decodeAndHandle(connection, raw);
    } catch (err) {
      connection.log.error({ err }, 'frame handling failed');
      try {
        connection.send(errorFrameFor(err));
      } catch {
        // The socket is unusable; its close handler cleans up.
      }
    }
  }

  async function decodeAndHandle(connection: ClientConnection, raw: string): Promise<void> {
    const decoded = decodeClientFrame(raw);
    deps.metrics.frameReceived(decoded.ok ? decoded.frame.type : 'invalid');
    if (!decoded.ok) {
      connection.send(errorFrame({ code: decoded.code, message: decoded.message }, { id: decoded.id, frame: decoded.frameType }));
      return;
    }
    const { frame } = decoded;
    try {
      await handleFrame(connection, frame);
    } catch (err) {
      const reply = errorFrameFor(err, {
        id: frame.id,
        frame: frame.type,
        details: {
          ...('chatId' in frame ? { chatId: frame.chatId } : {}),
          ...('clientMsgId' in frame ? { clientMsgId: frame.clientMsgId } : {}),
        },
      });
      if (reply.type === 'error' && reply.code === 'quota_exceeded') deps.metrics.quotaRefused();
      if (reply.type === 'error' && reply.code === 'internal') connection.log.error({ err, frame: frame.type }, 'frame failed');
      connection.send(reply);
    }
  }

  app.get(
    '/ws',
    { websocket: true, preValidation: [refuseWhileDraining, app.requireUser, checkOrigin, checkSocketCap, rememberUpgradeResponse] },
    (socket: WebSocket, req: FastifyRequest) => {
      releaseUpgradeObjects(socket, req);
      const user = req.user!;
      socketsOf.set(user.userId, (socketsOf.get(user.userId) ?? 0) + 1);
      const connection = new ClientConnection(
        socket,
        {
          userId: user.userId,
          username: user.username,
          email: user.email,
          sessionHash: user.sessionHash,
          sessionExpiresAt: user.sessionExpiresAt,
        },
        // From the app's logger, not the request's: one child per socket instead of two.
        app.log.child({ reqId: req.id, userId: user.userId }),
        { softBytes: settings.sendSoftLimitBytes, hardBytes: settings.sendHardLimitBytes },
        deps.metrics.frameSent,
        deps.metrics.frameDropped,
      );
      // Replaces the plugin's listener (released above) and does what it did: a socket that
      // erred (a malformed or oversize frame; ws has already sent its close code) is cut at
      // once rather than after the close handshake's timeout.
      socket.on('error', (err) => {
        connection.log.warn({ err }, 'socket error');
        socket.terminate();
      });
      connection.log.debug({ connId: connection.id }, 'socket open');

      // Listeners are attached before any await: frames that arrive during set-up
      // wait in the chain instead of being lost.
      const ready: Promise<void> = setUp(connection).catch((err) => {
        connection.log.error({ err }, 'socket set-up failed');
        connection.close('setupFailed');
      });
      let chain = ready;

      socket.on('message', (data, isBinary) => {
        if (connection.closed) return;
        const verdict = connection.admitFrame();
        if (verdict !== 'admit') {
          deps.metrics.rateLimited('socket');
          if (verdict === 'refuse') {
            connection.send(
              errorFrame({
                code: 'rate_limited',
                message: 'Too many frames; slow down. Frames are dropped without an answer for a second',
              }),
            );
          }
          return;
        }
        if (isBinary) {
          connection.send(errorFrame({ code: 'bad_frame', message: 'Frames are JSON text, not binary' }));
          return;
        }
        const raw = (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
        chain = chain.then(() => (connection.closed ? undefined : handleRaw(connection, raw)));
      });
      socket.on('pong', () => {
        connection.alive = true;
      });
      connection.closeAtSessionExpiry();
      socket.on('close', () => {
        connection.markClosed();
        const left = (socketsOf.get(user.userId) ?? 1) - 1;
        if (left > 0) socketsOf.set(user.userId, left);
        else socketsOf.delete(user.userId);
        // A socket that closes during set-up is removed once set-up is done, so it is
        // never left registered (or announced online) after it is gone.
        void ready.then(() => hub.remove(connection));
      });
    },
  );
}
