/**
 * What a benchmark runs against, started in this process: the shared services of
 * scripts/load/stack.ts (DynamoDB Local in memory, a throwaway redis-server, the S3
 * emulator, the local sign-in provider) and N huddle instances as separate processes
 * (so their CPU and memory can be read on their own). With `REDIS_CLUSTER=true` in the
 * environment the Redis is a throwaway three-master Redis Cluster instead.
 */
import { redisServerUnavailable } from '../../src/local/redis-server.js';
import { freePort } from '../../src/local/free-ports.js';
import { startLoadStack } from '../load/stack.js';
import { startInstanceProcess, stopProcess, type InstanceProcess } from '../load/processes.js';

/**
 * BENCH_INSTANCE_ROOT runs the instances from another checkout (with its own
 * node_modules), e.g. an earlier commit, so that two versions are measured by the
 * same load generator against the same stack.
 */
const instanceRoot = process.env.BENCH_INSTANCE_ROOT;

export interface BenchInstance {
  baseUrl: string;
  wsUrl: string;
  pid: number;
}

export interface BenchStack {
  env: Record<string, string>;
  redisUrl: string;
  redisCluster: boolean;
  startInstances(count: number, extraEnv?: Record<string, string>): Promise<BenchInstance[]>;
  close(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  // A private redis-server whenever one can be started: a benchmark's Redis shares its CPU with nothing else.
  const stack = await startLoadStack({
    redisUrl: redisServerUnavailable() ? process.env.REDIS_URL : undefined,
    redisCluster: process.env.REDIS_CLUSTER === 'true',
  });
  const env = { ...stack.env, LOG_LEVEL: 'warn' };
  const instances: InstanceProcess[] = [];
  const close = async () => {
    await Promise.all(instances.map((i) => stopProcess(i.child)));
    await stack.close();
  };
  // A benchmark stopped with Ctrl-C or SIGTERM leaves nothing running behind it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the benchmark's processes\n`);
      void close().finally(() => process.exit(130));
    });
  }
  return {
    env,
    redisUrl: stack.redis.url,
    redisCluster: stack.redisCluster,
    async startInstances(count, extraEnv = {}) {
      const started: BenchInstance[] = [];
      for (let i = 0; i < count; i++) {
        // BENCH_NODE_ARGS reaches the instances only, e.g. "--cpu-prof --cpu-prof-dir=prof".
        const instance = await startInstanceProcess({
          port: await freePort(),
          env: { ...process.env, ...env, ...extraEnv },
          ...(instanceRoot ? { root: instanceRoot } : {}),
          nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
        });
        instances.push(instance);
        started.push({ baseUrl: instance.baseUrl, wsUrl: instance.wsUrl, pid: instance.child.pid! });
      }
      return started;
    },
    close,
  };
}
