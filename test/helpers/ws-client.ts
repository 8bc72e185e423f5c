/**
 * A real WebSocket client for tests: keeps every frame it receives, and lets a
 * test wait for the frame it expects (with a deadline, so a missing frame fails
 * the test instead of hanging it).
 */
import WebSocket from 'ws';
import type { ServerFrame } from '../../src/transport/realtime/protocol.js';

export type Frame = ServerFrame & Record<string, unknown>;

/** A text frame's content, however `ws` delivered it (one buffer, fragments, or an ArrayBuffer). */
export function textOf(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

export interface ChatClient {
  socket: WebSocket;
  frames: Frame[];
  send(frame: Record<string, unknown>): void;
  sendRaw(data: string): void;
  /** Resolves with the first frame (received so far or later) that matches and was not taken before. */
  next<T extends Frame['type']>(
    type: T,
    match?: (frame: Extract<Frame, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<Frame, { type: T }>>;
  /** Fails if such a frame arrives within `ms`. */
  none(type: Frame['type'], match?: (frame: Frame) => boolean, ms?: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
  /** Stops keeping frames (benchmarks read them from `socket` themselves). */
  stopRecording(): void;
}

export interface ConnectOptions {
  cookie?: string;
  origin?: string;
}

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
export function connect(wsUrl: string, options: ConnectOptions = {}): Promise<ChatClient> {
  const origin = options.origin ?? new URL(wsUrl.replace(/^ws/, 'http')).origin;
  const socket = new WebSocket(wsUrl, { headers: { ...(options.cookie ? { cookie: options.cookie } : {}), origin } });
  const frames: Frame[] = [];
  const taken = new Set<Frame>();
  const waiters = new Set<() => void>();
  let recording = true;
  socket.on('message', (data) => {
    if (!recording) return;
    frames.push(JSON.parse(textOf(data)) as Frame);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters) wake();
    }),
  );

  const client: ChatClient = {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(JSON.stringify(frame)),
    sendRaw: (data) => socket.send(data),
    next(type, match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const found = frames.find((f) => !taken.has(f) && f.type === type && (!match || match(f as never)));
          if (found) {
            taken.add(found);
            finish();
            resolve(found as never);
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${type} frame within ${timeoutMs} ms; got: ${JSON.stringify(frames.map((f) => f.type))}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(look);
        };
        waiters.add(look);
        look();
      });
    },
    async none(type, match, ms = 500) {
      await new Promise((r) => setTimeout(r, ms));
      const found = frames.find((f) => !taken.has(f) && f.type === type && (!match || match(f)));
      if (found) throw new Error(`unexpected ${type} frame: ${JSON.stringify(found)}`);
    },
    stopRecording() {
      recording = false;
      frames.length = 0;
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close(1000);
      await closed;
    },
  };

  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { statusCode: res.statusCode }));
    });
    socket.once('error', reject);
  });
}

/** Connects and waits for `hello`. */
export async function connectReady(
  wsUrl: string,
  cookie: string,
): Promise<{ client: ChatClient; hello: Extract<Frame, { type: 'hello' }> }> {
  const client = await connect(wsUrl, { cookie });
  const hello = await client.next('hello');
  return { client, hello };
}
