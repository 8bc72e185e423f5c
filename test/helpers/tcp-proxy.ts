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
 *
 * `blackhole(only)` breaks only the connections whose client has sent bytes `only` accepts
 * (judged on everything the client sent so far, up to 64 KiB), now and as they connect:
 * one flow of a process frozen while its other flows work, e.g. a Redis client's
 * subscriber connection, recognised by the name it gives itself. `stall(only)` stops
 * reading what the server sends on such connections, as a client too busy to read does:
 * the server's unsent bytes pile up on its side until `heal()`. `inject(only, bytes)`
 * writes bytes to the server on such connections as if their client had sent them.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

/** Picks connections by what their client has sent so far. */
export type ClientBytesFilter = (clientBytes: string) => boolean;

export interface TcpProxy {
  /** The port to point the component at. */
  port: number;
  /** Connections accepted so far, for tests that need to know a reconnect happened. */
  readonly accepted: number;
  /** Every connection, or with `only` those whose client's bytes it accepts. */
  blackhole(only?: ClientBytesFilter): void;
  /** Stops reading the server's bytes on the connections whose client's bytes `only` accepts, until `heal()`. */
  stall(only: ClientBytesFilter): number;
  /** Writes `data` to the server on every passing connection whose client's bytes `only` accepts; returns how many. */
  inject(only: ClientBytesFilter, data: string): number;
  refuse(): void;
  heal(): void;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  /** What the client sent so far, up to SNIFF_BYTES. */
  sent: string;
}

const SNIFF_BYTES = 64 * 1024;

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let selective: ClientBytesFilter | undefined;
  let accepted = 0;
  const links = new Set<Link>();
  const parked = new Set<net.Socket>();
  const stalled = new Set<net.Socket>();

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
    const link: Link = { client, upstream, sent: '' };
    links.add(link);
    const park = () => {
      parked.add(client);
      parked.add(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      if (link.sent.length < SNIFF_BYTES) link.sent += chunk.toString('latin1').slice(0, SNIFF_BYTES - link.sent.length);
      if (selective?.(link.sent)) park();
      if (!parked.has(client)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!parked.has(upstream)) client.write(chunk);
    });
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
    blackhole(only) {
      // Parked sockets keep reading (so nothing pushes back) but forward nothing, and never close.
      const park = (link: Link) => {
        parked.add(link.client);
        parked.add(link.upstream);
      };
      if (only) {
        selective = only;
        for (const link of links) if (only(link.sent)) park(link);
        return;
      }
      mode = 'blackhole';
      for (const link of links) park(link);
    },
    stall(only) {
      let count = 0;
      for (const link of links) {
        if (!only(link.sent)) continue;
        link.upstream.pause();
        stalled.add(link.upstream);
        count += 1;
      }
      return count;
    },
    inject(only, data) {
      let written = 0;
      for (const link of links) {
        if (parked.has(link.upstream) || !only(link.sent)) continue;
        link.upstream.write(data);
        written += 1;
      }
      return written;
    },
    refuse() {
      mode = 'refuse';
      selective = undefined;
      for (const { client, upstream } of [...links]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      for (const socket of [...parked]) socket.resetAndDestroy();
    },
    heal() {
      mode = 'pass';
      selective = undefined;
      for (const socket of stalled) socket.resume();
      stalled.clear();
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
