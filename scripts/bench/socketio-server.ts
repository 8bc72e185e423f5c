/**
 * The comparison server of `npm run bench:compare` and `npm run bench:idle`: a small,
 * honest Socket.IO 4 chat relay, written as a chat app would write it, with the
 * Redis adapter so that several instances share rooms. WebSocket transport only; a
 * client names its room in the handshake (`auth: { room }`) and joins it at connect;
 * a `send` event is broadcast to the whole room (the sender's own socket included, as
 * huddle delivers the sender's copy too) and acknowledged to the sender.
 *
 * It persists nothing, authenticates nobody, keeps no history and applies no limits
 * but Socket.IO's own: that is what huddle is compared with, and every figure says so.
 *
 *   PORT=4000 REDIS_URL=redis://127.0.0.1:6379 SOCKETIO_KEY=bench1 node --import tsx scripts/bench/socketio-server.ts
 *
 * GET /readyz answers 200 once Redis is reached. SIGTERM or SIGINT closes it.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL;
if (!Number.isInteger(port) || port <= 0 || !redisUrl) {
  process.stderr.write('socketio-server: PORT (a port number) and REDIS_URL are required\n');
  process.exit(1);
}
/** Channel prefix of the adapter: runs sharing one Redis never hear each other. */
const key = process.env.SOCKETIO_KEY ?? 'socket.io';
const MAX_TEXT = 4000;

const pub = new Redis(redisUrl, { lazyConnect: true });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer((req, res) => {
  res.writeHead(req.url === '/readyz' ? 200 : 404).end();
});
const io = new Server(http, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub, { key }) });

interface SendPayload {
  clientMsgId: string;
  text: string;
}
const isSendPayload = (p: unknown): p is SendPayload =>
  typeof p === 'object' &&
  p !== null &&
  typeof (p as SendPayload).clientMsgId === 'string' &&
  typeof (p as SendPayload).text === 'string' &&
  (p as SendPayload).text.length <= MAX_TEXT;

io.on('connection', (socket) => {
  const room: unknown = socket.handshake.auth.room;
  if (typeof room !== 'string' || room.length === 0 || room.length > 200) {
    socket.disconnect(true);
    return;
  }
  void socket.join(room);
  socket.on('send', (payload: unknown, ack: unknown) => {
    const reply = typeof ack === 'function' ? (ack as (answer: unknown) => void) : () => {};
    if (!isSendPayload(payload)) return reply({ error: 'bad_request' });
    const sentAt = Date.now();
    io.to(room).emit('message', { room, clientMsgId: payload.clientMsgId, text: payload.text, from: socket.id, sentAt });
    reply({ clientMsgId: payload.clientMsgId, sentAt });
  });
});

http.listen(port, '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void io.close().finally(() => {
      pub.disconnect();
      sub.disconnect();
      process.exit(0);
    });
  });
}
