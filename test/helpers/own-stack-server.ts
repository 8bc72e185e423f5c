/**
 * `npm start` as a newcomer runs it: `src/server.ts` in its own process, starting
 * its own local stack on the given ports (nothing of the test run's stack is passed
 * on). For tests of starting and stopping the process itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Teardown } from './test-stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface OwnStackPorts {
  port: number;
  dynamo: number;
  s3: number;
  idp: number;
}

export interface OwnStackServer {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  /** Its exit code, once it exits. */
  exited: Promise<number | null>;
}

export function startOwnStackServer(t: Teardown, ports: OwnStackPorts, dataDir: string): OwnStackServer {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // This instance must start its own stack: drop what the test run points at.
    if (value !== undefined && !['DYNAMODB_ENDPOINT', 'REDIS_URL', 'S3_ENDPOINT', 'OIDC_ISSUER'].includes(name)) env[name] = value;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    env: {
      ...env,
      PORT: String(ports.port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${ports.port}`,
      LOG_LEVEL: 'warn',
      LOCAL_DATA_DIR: dataDir,
      LOCAL_DYNAMODB_PORT: String(ports.dynamo),
      LOCAL_S3_PORT: String(ports.s3),
      LOCAL_IDP_PORT: String(ports.idp),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, output: () => output, exited };
}

/** True when anything answers HTTP at `url`. */
export async function answersHttp(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}
