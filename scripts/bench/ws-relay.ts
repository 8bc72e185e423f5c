/**
 * The floor of `npm run bench:idle`: the least a WebSocket chat relay can hold per
 * connection with the same `ws` library huddle uses. A client names its room in the
 * query string (`/ws?room=r`); a text frame is relayed to every socket of that room;
 * every socket is pinged every 25 s (huddle's heartbeat). No Redis, no sessions, no
 * persistence, no limits: a floor, not a chat service.
 *
 *   PORT=4000 node scripts/bench/ws-relay.ts (bundled by bench:idle)
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const HEARTBEAT_MS = 25_000;
const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('ws-relay: PORT (a port number) is required\n');
  process.exit(1);
}

const rooms = new Map<string, Set<WebSocket>>();
const http = createServer((req, res) => {
  res.writeHead(req.url === '/readyz' ? 200 : 404).end();
});
const wss = new WebSocketServer({ server: http, path: '/ws', maxPayload: 64 * 1024 });

wss.on('connection', (socket, req) => {
  const room = new URL(req.url ?? '/', 'http://relay').searchParams.get('room') ?? '';
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(socket);
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    for (const member of members) member.send(data, { binary: false });
  });
  socket.on('close', () => {
    members.delete(socket);
    if (members.size === 0) rooms.delete(room);
  });
});

setInterval(() => {
  for (const socket of wss.clients) socket.ping();
}, HEARTBEAT_MS).unref();

http.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
