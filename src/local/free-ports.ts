/**
 * Checks, before anything starts, that the ports the local stack is about to take are
 * free: a newcomer whose machine already runs something on 8000 learns which port and
 * which variable moves it, instead of a Java stack trace or a half-started stack. Also
 * hands out free ports to what starts on any port (tests, benchmarks, throwaway Redis).
 */
import net from 'node:net';

export interface WantedPort {
  port: number;
  /** The environment variable that sets it. */
  variable: string;
  /** What huddle would run there. */
  what: string;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    // No host: the dual-stack wildcard, which conflicts with a listener on any local address.
    probe.listen({ port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Throws one error naming every taken port and the variable that moves it. */
export async function requireFreePorts(wanted: readonly WantedPort[]): Promise<void> {
  const taken = (await Promise.all(wanted.map(async (w) => ((await isFree(w.port)) ? undefined : w)))).filter(
    (w): w is WantedPort => w !== undefined,
  );
  if (taken.length === 0) return;
  const lines = taken.map(
    (w) => `  port ${w.port} (${w.what}) is already in use by another program: stop it, or set ${w.variable} to a free port`,
  );
  throw new Error(`The local stack cannot start:\n${lines.join('\n')}`);
}

/** A TCP port free on 127.0.0.1 right now (another process could still take it first). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
