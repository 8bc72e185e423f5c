/** Child processes of the load tools: huddle instances started as `npm start` runs them, and how they stop. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The Node binary the servers under load run on: `BENCH_NODE` when set (say, the
 * image's Node beside the machine's), else the one running this tool. The load
 * generator itself stays on this one, so only the servers change.
 */
export const serverNode = process.env.BENCH_NODE || process.execPath;

/** `serverNode`'s version, for reports. */
export function serverNodeVersion(): string {
  return serverNode === process.execPath ? process.version : execFileSync(serverNode, ['--version'], { encoding: 'utf8' }).trim();
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Whether `port` can be listened on at `host` right now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export interface InstanceProcess {
  baseUrl: string;
  wsUrl: string;
  port: number;
  child: ChildProcess;
}

export interface InstanceOptions {
  port: number;
  env: Record<string, string | undefined>;
  /** The checkout whose src/server.ts runs (its own node_modules); default this one. */
  root?: string;
  nodeArgs?: string[];
  /** Where the instance's output goes: 'inherit' shows its warnings, 'ignore' drops them. */
  output?: 'inherit' | 'ignore';
  /** Called with the process as soon as it exists, before it is ready: whoever stops things must know it. */
  onSpawn?: (child: ChildProcess) => void;
}

/** Starts `src/server.ts` on `port` (HOST 127.0.0.1) and resolves once /readyz answers. */
export async function startInstanceProcess(options: InstanceOptions): Promise<InstanceProcess> {
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const child = spawn(serverNode, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/server.ts'], {
    cwd: options.root ?? repoRoot,
    env: { ...options.env, HOST: '127.0.0.1', PORT: String(options.port), PUBLIC_URL: baseUrl },
    stdio: ['ignore', 'ignore', options.output ?? 'inherit'],
  });
  options.onSpawn?.(child);
  try {
    await waitForReady(baseUrl, child);
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { baseUrl, wsUrl: `ws://127.0.0.1:${options.port}/ws`, port: options.port, child };
}

async function waitForReady(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the instance at ${baseUrl} exited while starting (${child.exitCode ?? child.signalCode})`);
    }
    try {
      if ((await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the instance at ${baseUrl} was not ready within 60 s`);
}
