import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { CloseCode, closeReason, type CloseCodeName } from '../../shared/close-codes.js';
import { EPHEMERAL_FRAME_TYPES } from '../../shared/frames.js';
import type { FrameDropReason } from '../../domain/metrics.js';
import { FloodGuard, type FloodVerdict } from './flood-guard.js';
import type { ServerFrame } from './protocol.js';

/** The part of a `ws` WebSocket a connection uses. */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  send(data: Buffer, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
}

const OPEN = 1;
/** A frame encoded once for many sockets still goes out as text. */
const AS_TEXT = { binary: false };
/** setTimeout's longest delay; a later expiry is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionUser {
  userId: string;
  username: string;
  email?: string | undefined;
  sessionHash: string;
  /** Epoch ms: the socket closes (4501) when its session's absolute timeout passes. */
  sessionExpiresAt: number;
}

export interface SendLimits {
  softBytes: number;
  hardBytes: number;
}

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
  private readonly flood = new FloodGuard();
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: SocketLike,
    readonly user: ConnectionUser,
    readonly log: FastifyBaseLogger,
    private readonly limits: SendLimits,
    private readonly frameSent: (type: string) => void = () => {},
    private readonly frameDropped: (reason: FrameDropReason) => void = () => {},
  ) {}

  /**
   * Sends an already serialized frame. Past the soft limit ephemeral frames are
   * dropped; past the hard limit the socket is closed so the client reconnects and
   * syncs rather than the server buffering without bound. A frame going to many
   * sockets comes UTF-8 encoded once, as a Buffer, instead of once per socket.
   */
  sendJson(json: string | Buffer, ephemeral = false, type = 'unknown'): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.limits.hardBytes) {
      this.log.warn({ buffered, frameType: type }, 'closing a slow consumer: this frame and what follows go to it by sync');
      this.frameDropped('slow_consumer_closed');
      this.close('slowConsumer');
      return;
    }
    if (ephemeral && buffered > this.limits.softBytes) {
      this.frameDropped('slow_socket');
      return;
    }
    if (typeof json === 'string') this.socket.send(json);
    else this.socket.send(json, AS_TEXT);
    this.frameSent(type);
  }

  send(frame: ServerFrame): void {
    this.sendJson(JSON.stringify(frame), EPHEMERAL_FRAME_TYPES.has(frame.type), frame.type);
  }

  /** Judges one incoming frame against the flood limits; closes a socket that keeps flooding. */
  admitFrame(now = Date.now()): FloodVerdict {
    const verdict = this.flood.check(now);
    if (verdict === 'close') this.close('flooding');
    return verdict;
  }

  /** Closes the socket the moment its session expires, on whichever instance holds it. */
  closeAtSessionExpiry(now = Date.now()): void {
    if (this.closed) return;
    const left = this.user.sessionExpiresAt - now;
    if (left <= 0) {
      this.close('sessionEnded');
      return;
    }
    this.expiryTimer = setTimeout(() => this.closeAtSessionExpiry(), Math.min(left, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  ping(): void {
    if (!this.alive) {
      this.log.info('terminating an unresponsive socket');
      this.markClosed();
      this.socket.terminate();
      return;
    }
    this.alive = false;
    if (this.socket.readyState === OPEN) this.socket.ping();
  }

  /** The socket is gone (or going): nothing more is sent or handled on it. */
  markClosed(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
  }

  close(name: CloseCodeName): void {
    if (this.closed) return;
    this.markClosed();
    this.socket.close(CloseCode[name], closeReason[name]);
  }
}
