/**
 * A counting HTTP proxy in front of DynamoDB Local: the instances talk to it as
 * their DynamoDB endpoint, and it tallies requests by operation (the X-Amz-Target
 * header) so a benchmark can say how many DynamoDB requests a message costs. It
 * runs in the load generator's process; its own CPU is not counted as the
 * instances'.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface DynamoCounter {
  endpoint: string;
  /** Requests so far by operation (GetItem, TransactWriteItems, ...). */
  counts(): Record<string, number>;
  /** Milliseconds DynamoDB took to answer so far, summed by operation: with counts, its mean latency. */
  answerMs(): Record<string, number>;
  close(): Promise<void>;
}

export async function startDynamoCounter(target: string): Promise<DynamoCounter> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const counts: Record<string, number> = {};
  const answerMs: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const operation = String(req.headers['x-amz-target'] ?? 'unknown')
      .split('.')
      .pop()!;
    counts[operation] = (counts[operation] ?? 0) + 1;
    const startedAt = performance.now();
    res.once('finish', () => {
      answerMs[operation] = (answerMs[operation] ?? 0) + performance.now() - startedAt;
    });
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    answerMs: () => ({ ...answerMs }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** Requests between two snapshots, by operation, and in total. */
export function countsBetween(before: Record<string, number>, after: Record<string, number>) {
  const byOperation: Record<string, number> = {};
  let total = 0;
  for (const [operation, n] of Object.entries(after)) {
    const delta = n - (before[operation] ?? 0);
    if (delta > 0) {
      byOperation[operation] = delta;
      total += delta;
    }
  }
  return { byOperation, total };
}

/** Mean answer time by operation between two snapshots of counts and answer times. */
export function meanAnswerMs(counts: Record<string, number>, answerMs: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).map(([operation, n]) => [operation, +((answerMs[operation] ?? 0) / n).toFixed(1)]));
}
