/**
 * A real TCP hop on 127.0.0.1 between a component and what it talks to, which a fault
 * test can break the ways networks break:
 *
 * - `blackhole()`: every open connection stays open but nothing crosses it any more, and
 *   new connections are accepted and go nowhere. The peer sees no FIN and no RST: a
 *   vanished host, a frozen connection, a half-open socket.
 * - `refuse()`: every open connection is reset and new ones are closed at once: a
 *   process that is gone, a port nobody listens on.
 * - `heal()`: new connections pass again (broken ones stay broken, as after a real outage).
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

export interface TcpProxy {
  /** The port to point the component at. */
  port: number;
  /** Connections accepted so far, for tests that need to know a reconnect happened. */
  readonly accepted: number;
  blackhole(): void;
  refuse(): void;
  heal(): void;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let accepted = 0;
  const links = new Set<Link>();
  const parked = new Set<net.Socket>();

  const server = net.createServer((client) => {
    accepted += 1;
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      // Read and discard, so the kernel buffers never push back on the sender.
      client.on('data', () => {});
      parked.add(client);
      client.once('close', () => parked.delete(client));
      return;
    }
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    upstream.on('error', () => client.destroy());
    const link = { client, upstream };
    links.add(link);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (!parked.has(from)) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const unlink = () => {
      links.delete(link);
      parked.delete(client);
      parked.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.once('close', unlink);
    upstream.once('close', unlink);
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get accepted() {
      return accepted;
    },
    blackhole() {
      mode = 'blackhole';
      // Parked sockets keep reading (so nothing pushes back) but forward nothing, and never close.
      for (const { client, upstream } of links) {
        parked.add(client);
        parked.add(upstream);
      }
    },
    refuse() {
      mode = 'refuse';
      for (const { client, upstream } of [...links]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      for (const socket of [...parked]) socket.resetAndDestroy();
    },
    heal() {
      mode = 'pass';
    },
    async close() {
      for (const { client, upstream } of [...links]) {
        client.destroy();
        upstream.destroy();
      }
      for (const socket of [...parked]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
