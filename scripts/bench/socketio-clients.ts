/**
 * Socket.IO on the bench's side: its server started as a process (socketio-server.ts),
 * and its clients as plain `ws` sockets speaking the Engine.IO 4 / Socket.IO 5 wire
 * protocol directly, so that a Socket.IO client costs the load generator what a huddle
 * client does (one `ws` socket, one JSON.parse per frame) and the comparison measures
 * the servers, not socket.io-client's own overhead. The frames used:
 *
 *   server → `0{...}` open, `2` ping (answered `3`), `40{...}` connected to "/",
 *            `42["message",{...}]` an event, `43<id>[{...}]` the ack of send <id>
 *   client → `40{"room":"r"}` connect to "/" with auth, `42<id>["send",{...}]` an event asking for an ack
 *
 * What they receive goes to the same tally as huddle's clients (load-clients.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { repoRoot, serverNode, stopProcess } from '../load/processes.js';
import { inParallel } from '../load/in-parallel.js';
import { trackConnection, type RunTally } from '../load/load-clients.js';
import type { LoadUser } from '../load/prepare-users.js';

const CONNECTS_IN_FLIGHT = 200;

export interface SocketIoProcess {
  baseUrl: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts socketio-server.ts on `port` (through tsx, as the bench's huddle instances run) and resolves once /readyz answers. */
export async function startSocketIoProcess(options: {
  port: number;
  redisUrl: string;
  key: string;
  nodeArgs?: string[];
}): Promise<SocketIoProcess> {
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const child = spawn(serverNode, [...(options.nodeArgs ?? []), '--import', 'tsx', 'scripts/bench/socketio-server.ts'], {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: 'production', PORT: String(options.port), REDIS_URL: options.redisUrl, SOCKETIO_KEY: options.key },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the Socket.IO server on ${options.port} exited while starting`);
    const ready = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new Error(`the Socket.IO server on ${options.port} was not ready within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { baseUrl, port: options.port, child, stop: () => stopProcess(child) };
}

/** Opens every user's socket to its target (a Socket.IO server) and joins its room; resolves once all are connected or failed. */
export async function connectSocketIoClients(users: LoadUser[], tally: RunTally): Promise<void> {
  await inParallel(users, CONNECTS_IN_FLIGHT, (user) => connectOne(user, tally));
}

function connectOne(user: LoadUser, tally: RunTally): Promise<void> {
  const socket = new WebSocket(`${user.target.baseUrl.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  return trackConnection(user, tally, socket, {
    awaited: 'Socket.IO connect',
    onText(text, receivedAt) {
      if (text === '2') socket.send('3');
      else if (text.startsWith('40')) return true;
      else if (text.startsWith('0')) socket.send(`40${JSON.stringify({ room: user.chatId })}`);
      else if (text.startsWith('42')) {
        const [event, payload] = JSON.parse(text.slice(2)) as [string, { clientMsgId: string }];
        if (event === 'message') tally.record(user, { type: 'message', message: { clientMsgId: payload.clientMsgId, seq: 0 } }, receivedAt);
      } else if (text.startsWith('43')) {
        const body = text.slice(2 + /^\d*/.exec(text.slice(2))![0].length);
        const [answer] = JSON.parse(body) as [{ clientMsgId?: string; error?: string }];
        if (answer.clientMsgId) tally.record(user, { type: 'ack', clientMsgId: answer.clientMsgId }, receivedAt);
      }
      return false;
    },
  });
}

let nextAckId = 0;

/** Sends a chat message from `user` to its room, asking for an ack; the tally must already expect it. */
export function sendOverSocketIo(user: LoadUser, clientMsgId: string, text: string): void {
  user.socket!.send(`42${nextAckId++}${JSON.stringify(['send', { clientMsgId, text }])}`);
}
