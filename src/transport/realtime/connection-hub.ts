/**
 * The local hub: which sockets this instance holds, per user and per chat, and the
 * bus subscriptions that follow from them. A chat's channel is subscribed while at
 * least one local socket of a member is open and released a little after the last
 * one goes (reconnects within the linger reuse it). Frames from the bus are
 * delivered to local sockets here, serialized once for all of them.
 */
import type { FastifyBaseLogger } from 'fastify';
import { chatChannel, userChannel, type Bus, type BusChannel, type BusDelivery } from '../../domain/fanout/ports.js';
import { EPHEMERAL_FRAME_TYPES } from '../../shared/frames.js';
import type { ClientConnection } from './client-connection.js';
import type { FanoutFrame, ServerFrame } from './protocol.js';

const UNSUBSCRIBE_LINGER_MS = 5_000;

class ChannelSubscriptions {
  private readonly refs = new Map<BusChannel, number>();
  private readonly active = new Map<BusChannel, Promise<void>>();
  private readonly lingering = new Map<BusChannel, NodeJS.Timeout>();

  constructor(
    private readonly bus: Bus<FanoutFrame>,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Resolves once the channel's subscription is active. */
  acquire(channel: BusChannel): Promise<void> {
    this.refs.set(channel, (this.refs.get(channel) ?? 0) + 1);
    const timer = this.lingering.get(channel);
    if (timer) {
      clearTimeout(timer);
      this.lingering.delete(channel);
    }
    let subscribed = this.active.get(channel);
    if (!subscribed) {
      subscribed = this.bus.subscribe(channel);
      this.active.set(channel, subscribed);
      // A failed subscribe must be retried by the next acquire, not remembered.
      subscribed.catch(() => this.active.get(channel) === subscribed && this.active.delete(channel));
    }
    return subscribed;
  }

  release(channel: BusChannel): void {
    const count = (this.refs.get(channel) ?? 0) - 1;
    if (count > 0) {
      this.refs.set(channel, count);
      return;
    }
    this.refs.delete(channel);
    if (this.lingering.has(channel)) return;
    this.lingering.set(
      channel,
      setTimeout(() => {
        this.lingering.delete(channel);
        if (this.refs.has(channel)) return;
        this.active.delete(channel);
        this.bus.unsubscribe(channel).catch((err) => this.log.warn({ err, channel }, 'unsubscribe failed'));
      }, UNSUBSCRIBE_LINGER_MS).unref(),
    );
  }

  count(): number {
    return this.active.size;
  }

  clear(): void {
    for (const timer of this.lingering.values()) clearTimeout(timer);
    this.lingering.clear();
  }
}

export interface HubListeners {
  /** A user's last socket on this instance closed. */
  lastDisconnection?: (userId: string, chatIds: string[]) => void;
  /** A message reached this instance for its sockets (once per instance, not per socket). */
  messageArrived?: (frame: Extract<ServerFrame, { type: 'message' }>) => void;
  /** A `chat` event (created or changed) reached this socket; these are the chat's members now. */
  joinedChat?: (connection: ClientConnection, memberIds: string[]) => void;
}

export class ConnectionHub {
  private readonly byUser = new Map<string, Set<ClientConnection>>();
  private readonly byChat = new Map<string, Set<ClientConnection>>();
  private readonly subscriptions: ChannelSubscriptions;

  constructor(
    private readonly bus: Bus<FanoutFrame>,
    private readonly log: FastifyBaseLogger,
    readonly listeners: HubListeners = {},
  ) {
    this.subscriptions = new ChannelSubscriptions(bus, log);
    bus.onDelivery((delivery) => this.deliver(delivery));
  }

  /**
   * Registers a socket and subscribes to its user's and chats' channels. Resolves
   * when every subscription is active: only then may the caller read what the
   * client missed ("subscribe, then read"). True when it is the user's first
   * socket on this instance.
   */
  async add(connection: ClientConnection, chatIds: readonly string[]): Promise<boolean> {
    const { userId } = connection.user;
    let sockets = this.byUser.get(userId);
    const first = !sockets;
    if (!sockets) this.byUser.set(userId, (sockets = new Set()));
    sockets.add(connection);
    const pending = [this.subscriptions.acquire(userChannel(userId))];
    for (const chatId of chatIds) pending.push(this.joinChat(connection, chatId));
    await Promise.all(pending);
    return first;
  }

  remove(connection: ClientConnection): void {
    const { userId } = connection.user;
    const sockets = this.byUser.get(userId);
    if (!sockets?.delete(connection)) return;
    const chatIds = [...connection.chatIds];
    for (const chatId of chatIds) this.leaveChat(connection, chatId);
    this.subscriptions.release(userChannel(userId));
    if (sockets.size === 0) {
      this.byUser.delete(userId);
      this.listeners.lastDisconnection?.(userId, chatIds);
    }
  }

  private joinChat(connection: ClientConnection, chatId: string): Promise<void> {
    if (connection.chatIds.has(chatId)) return Promise.resolve();
    connection.chatIds.add(chatId);
    let sockets = this.byChat.get(chatId);
    if (!sockets) this.byChat.set(chatId, (sockets = new Set()));
    sockets.add(connection);
    return this.subscriptions.acquire(chatChannel(chatId));
  }

  private leaveChat(connection: ClientConnection, chatId: string): void {
    if (!connection.chatIds.delete(chatId)) return;
    const sockets = this.byChat.get(chatId);
    sockets?.delete(connection);
    if (sockets?.size === 0) this.byChat.delete(chatId);
    this.subscriptions.release(chatChannel(chatId));
  }

  private deliver({ channel, frame, json }: BusDelivery<FanoutFrame>): void {
    const separator = channel.indexOf(':');
    const kind = channel.slice(0, separator);
    const id = channel.slice(separator + 1);
    if (kind === 'chat') this.deliverToChat(id, frame, json);
    else if (kind === 'user') this.deliverToUser(id, frame, json);
  }

  private deliverToChat(chatId: string, frame: FanoutFrame, json: string): void {
    const sockets = this.byChat.get(chatId);
    if (!sockets || frame.type === 'session_ended') return;
    const ephemeral = EPHEMERAL_FRAME_TYPES.has(frame.type);
    if (frame.type === 'message') this.listeners.messageArrived?.(frame);
    const payload = sockets.size > 1 ? Buffer.from(json) : json;
    for (const connection of sockets) {
      if (frame.type === 'presence') {
        if (frame.userId === connection.user.userId || connection.presenceSent.get(frame.userId) === frame.online) continue;
        connection.presenceSent.set(frame.userId, frame.online);
      }
      connection.sendJson(payload, ephemeral, frame.type);
    }
  }

  private deliverToUser(userId: string, frame: FanoutFrame, json: string): void {
    const sockets = this.byUser.get(userId);
    if (!sockets) return;
    if (frame.type === 'session_ended') {
      // Closed at once: from here on the socket neither sends nor handles a frame.
      for (const connection of [...sockets]) if (connection.user.sessionHash === frame.sessionHash) connection.close('sessionEnded');
      return;
    }
    for (const connection of sockets) {
      if (frame.type !== 'chat') {
        connection.sendJson(json, false, frame.type);
      } else if (frame.change === 'removed') {
        this.leaveChat(connection, frame.chat.chatId);
        connection.sendJson(json, false, frame.type);
      } else {
        // Hear a new chat before the client learns of it, so it misses nothing after.
        const { chat } = frame;
        this.joinChat(connection, chat.chatId).then(
          () => {
            connection.sendJson(json, false, frame.type);
            // New members may be online already: whoever is new to this socket gets a presence frame.
            if ('members' in chat)
              this.listeners.joinedChat?.(
                connection,
                chat.members.map((m) => m.userId),
              );
          },
          (err) => {
            connection.log.warn({ err, chatId: chat.chatId }, 'could not subscribe to a new chat');
            connection.close('setupFailed');
          },
        );
      }
    }
  }

  /** Sends one frame, serialized once, to every local socket. */
  broadcast(frame: ServerFrame): void {
    const payload = Buffer.from(JSON.stringify(frame));
    for (const sockets of this.byUser.values()) for (const connection of sockets) connection.sendJson(payload, false, frame.type);
  }

  connections(): ClientConnection[] {
    return [...this.byUser.values()].flatMap((sockets) => [...sockets]);
  }

  localUserIds(): string[] {
    return [...this.byUser.keys()];
  }

  socketCount(): number {
    let count = 0;
    for (const sockets of this.byUser.values()) count += sockets.size;
    return count;
  }

  stats() {
    return { users: this.byUser.size, chats: this.byChat.size, subscriptions: this.subscriptions.count() };
  }

  close(): void {
    this.subscriptions.clear();
  }
}
