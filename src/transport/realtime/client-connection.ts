import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { CloseCode, closeReason, type CloseCodeName } from '../../shared/close-codes.js';
import { EPHEMERAL_FRAME_TYPES } from '../../shared/frames.js';
import type { ServerFrame } from './protocol.js';

/** The part of a `ws` WebSocket a connection uses. */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
}

const OPEN = 1;

export interface ConnectionUser {
  userId: string;
  username: string;
  email?: string | undefined;
  sessionHash: string;
}

export interface SendLimits {
  softBytes: number;
  hardBytes: number;
}

/** Frames a client may send: a burst, then a steady rate; far past it the socket is closed. */
const RATE = { burst: 40, perSecond: 20, closeAfterDropped: 200 };

/**
 * One browser tab's socket: who it is, which chats it hears, and the guards that
 * keep one client from hurting others (send buffer limits, frame rate).
 */
export class ClientConnection {
  readonly id = randomUUID();
  readonly chatIds = new Set<string>();
  /** Last presence sent per user, so a user in several shared chats is announced once. */
  readonly presenceSent = new Map<string, boolean>();
  alive = true;
  closed = false;
  private tokens = RATE.burst;
  private refilledAt: number | undefined;
  private dropped = 0;

  constructor(
    private readonly socket: SocketLike,
    readonly user: ConnectionUser,
    readonly log: FastifyBaseLogger,
    private readonly limits: SendLimits,
    private readonly frameSent: (type: string) => void = () => {},
  ) {}

  /**
   * Sends an already serialized frame. Past the soft limit ephemeral frames are
   * dropped; past the hard limit the socket is closed so the client reconnects and
   * syncs rather than the server buffering without bound.
   */
  sendJson(json: string, ephemeral = false, type = 'unknown'): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.limits.hardBytes) {
      this.log.warn({ buffered }, 'closing a slow consumer');
      this.close('slowConsumer');
      return;
    }
    if (ephemeral && buffered > this.limits.softBytes) return;
    this.socket.send(json);
    this.frameSent(type);
  }

  send(frame: ServerFrame): void {
    this.sendJson(JSON.stringify(frame), EPHEMERAL_FRAME_TYPES.has(frame.type), frame.type);
  }

  /** Takes a token for one incoming frame; false when over the rate (and closes a flooder). */
  admitFrame(now = Date.now()): boolean {
    this.tokens = Math.min(RATE.burst, this.tokens + ((now - (this.refilledAt ?? now)) / 1000) * RATE.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.dropped = 0;
      return true;
    }
    this.dropped += 1;
    if (this.dropped > RATE.closeAfterDropped) this.close('flooding');
    return false;
  }

  ping(): void {
    if (!this.alive) {
      this.log.info('terminating an unresponsive socket');
      this.closed = true;
      this.socket.terminate();
      return;
    }
    this.alive = false;
    if (this.socket.readyState === OPEN) this.socket.ping();
  }

  close(name: CloseCodeName): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(CloseCode[name], closeReason[name]);
  }
}
