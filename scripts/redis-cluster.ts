/**
 * `npm run redis:cluster -- [--masters N] [--port P]`: a local Redis Cluster of N
 * masters (default 3, no replicas) on 127.0.0.1 ports P..P+N-1 (default 7000), each a
 * throwaway redis-server: nothing persisted, the cluster's own files in a temporary
 * folder. Every node also takes its cluster bus port, its port + 10000. Prints the
 * variables that point huddle and `npm run cluster` at it; Ctrl-C or
 * SIGTERM stops every server and removes the folders.
 */
import { fail } from './script-support.js';
import { numberOption, parseOptions } from './load/cli.js';
import { portIsFree } from './load/processes.js';
import { commandName, pidListeningOn } from './load/proc-stats.js';
import { redisServerUnavailable, startRedisCluster, type RedisCluster } from '../src/local/redis-server.js';

/** A node's cluster bus (gossip between nodes) listens this far above its client port. */
const BUS_PORT_OFFSET = 10_000;

const usage = 'usage: npm run redis:cluster -- [--masters N] [--port P]   (N from 3 to 9, default 3; P default 7000)';
const values = parseOptions(process.argv.slice(2), { masters: { type: 'string' }, port: { type: 'string' } }, usage);
const masters = numberOption('masters', values.masters, { default: 3, min: 3, max: 9 });
const basePort = numberOption('port', values.port, { default: 7000, min: 1024, max: 65535 - BUS_PORT_OFFSET - masters });
const ports = Array.from({ length: masters }, (_, i) => basePort + i);

let cluster: RedisCluster | undefined;
let stopping = false;

async function start(): Promise<void> {
  const unavailable = redisServerUnavailable();
  if (unavailable)
    fail(`Cannot start a Redis Cluster here: ${unavailable}. Install redis-server 7 or later (Debian: apt-get install redis-server).`);
  for (const port of ports.flatMap((p) => [p, p + BUS_PORT_OFFSET])) {
    if (await portIsFree(port)) continue;
    const pid = await pidListeningOn(port);
    const owner = pid ? ` by process ${pid} (${(await commandName(pid)) ?? 'unknown'})` : '';
    fail(
      `Port ${port} on 127.0.0.1 is taken${owner}: the cluster needs ports ${ports[0]}-${ports.at(-1)} and their bus ports ` +
        `${ports[0]! + BUS_PORT_OFFSET}-${ports.at(-1)! + BUS_PORT_OFFSET}. Pick others with --port.`,
    );
  }
  cluster = await startRedisCluster({ masters, basePort });
  if (stopping) return;
  const url = cluster.url;
  process.stdout.write(
    [
      '',
      `Redis Cluster: ${masters} masters, no replicas, nothing persisted (Ctrl-C stops them)`,
      ...cluster.nodes.map((node) => `  ${node.url}   pid ${node.pid() ?? '?'}`),
      '',
      'Point huddle at it (any node is a seed; the clients learn the rest):',
      `  export REDIS_URL=${url} REDIS_CLUSTER=true`,
      '  npm start                           # one instance',
      '  npm run cluster -- --instances 2    # several, for load tests (docs/load-testing.md)',
      'redis cluster ready',
      '',
    ].join('\n'),
  );
}

const startup = start();

async function stop(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping the Redis Cluster\n`);
  // Whatever was still starting has either failed (and cleaned up after itself) or finished.
  await startup.catch(() => {});
  await cluster?.close();
  process.stdout.write('redis cluster stopped\n');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

startup.catch((err: unknown) => {
  if (stopping) return;
  fail(`The Redis Cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
});
