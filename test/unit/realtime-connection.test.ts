/**
 * The per-socket guards, driven through a stand-in for the `ws` socket: what a
 * slow or flooding client experiences.
 */
import t from 'tap';
import pino from 'pino';
import { ClientConnection, type SocketLike } from '../../src/transport/realtime/client-connection.js';

class FakeSocket implements SocketLike {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  /** Frames that went out as binary: a browser hands those to the page as a Blob, not text. */
  binary = 0;
  closedWith?: { code: number; reason: string };
  terminated = false;
  pings = 0;
  send(data: string | Buffer, options?: { binary: boolean }) {
    if (typeof data !== 'string' && options?.binary !== false) this.binary += 1;
    this.sent.push(data.toString());
  }
  close(code: number, reason: string) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  terminate() {
    this.terminated = true;
    this.readyState = 3;
  }
  ping() {
    this.pings += 1;
  }
}

const log = pino({ level: 'silent' });
const user = { userId: 'u1', username: 'alice', sessionHash: 'h', sessionExpiresAt: Date.now() + 3_600_000 };
const limits = { softBytes: 1000, hardBytes: 5000 };

t.test('past the soft limit typing and presence are dropped (and counted), messages are not', async (t) => {
  const socket = new FakeSocket();
  const dropped: string[] = [];
  const connection = new ClientConnection(socket, user, log, limits, undefined, (reason) => dropped.push(reason));
  socket.bufferedAmount = 2000;
  connection.send({ type: 'typing', chatId: 'c', userId: 'u2', username: 'bob' });
  connection.send({ type: 'presence', userId: 'u2', online: true });
  connection.sendJson('{"type":"message"}');
  t.same(socket.sent, ['{"type":"message"}']);
  t.notOk(socket.closedWith, 'still open');
  t.same(dropped, ['slow_socket', 'slow_socket'], 'each skipped frame is counted');
});

t.test('a frame encoded once for many sockets still goes out as text', async (t) => {
  const socket = new FakeSocket();
  const connection = new ClientConnection(socket, user, log, limits);
  connection.sendJson(Buffer.from('{"type":"message","text":"héllo"}'));
  t.same(socket.sent, ['{"type":"message","text":"héllo"}']);
  t.equal(socket.binary, 0, 'as a text frame');
});

t.test('past the hard limit the socket is closed with the reconnect-and-sync code', async (t) => {
  const socket = new FakeSocket();
  const dropped: string[] = [];
  const connection = new ClientConnection(socket, user, log, limits, undefined, (reason) => dropped.push(reason));
  socket.bufferedAmount = 6000;
  connection.sendJson('{"type":"message"}');
  t.same(socket.sent, [], 'nothing more is queued');
  t.same(dropped, ['slow_consumer_closed'], 'the frame that did not go out is counted');
  t.equal(socket.closedWith?.code, 4008);
  t.ok(Buffer.byteLength(socket.closedWith!.reason) <= 123, 'the reason fits a close frame');
});

t.test('frames past the burst are refused, and a flood closes the socket', async (t) => {
  const socket = new FakeSocket();
  const connection = new ClientConnection(socket, user, log, limits);
  const now = 1_000_000;
  let admitted = 0;
  for (let i = 0; i < 100; i++) if (connection.admitFrame(now) === 'admit') admitted += 1;
  t.equal(admitted, 40, 'a burst of 40 is admitted at once');
  t.notOk(socket.closedWith, 'refused frames alone do not close the socket');
  t.equal(connection.admitFrame(now + 1000), 'admit', 'a second later there is room again');
  for (let i = 0; i < 300; i++) connection.admitFrame(now + 1000);
  t.equal(socket.closedWith?.code, 4009, 'a client that keeps flooding is closed');
});

t.test('a peer that misses a ping is terminated at the next one', async (t) => {
  const socket = new FakeSocket();
  const connection = new ClientConnection(socket, user, log, limits);
  connection.ping();
  t.equal(socket.pings, 1);
  connection.alive = true; // the pong arrived
  connection.ping();
  t.notOk(socket.terminated);
  connection.ping(); // no pong since the last ping
  t.ok(socket.terminated);
});
