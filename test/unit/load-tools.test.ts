/**
 * The measuring parts of the load tools: percentiles from the constant-memory
 * histogram agree with exact ones, a listening port leads to its process, and a
 * server started for a memory cgroup joins it as the very process that runs.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LatencyHistogram } from '../../scripts/load/latency-histogram.js';
import { percentile } from '../../scripts/load/percentile.js';
import { pidListeningOn } from '../../scripts/load/proc-stats.js';
import { cgroupLayout, joinAndExec } from '../../scripts/load/memory-cgroup.js';
import { freePort } from '../helpers/free-port.js';

t.test('histogram percentiles match exact percentiles to the bucket (0.1 ms)', async (t) => {
  const histogram = new LatencyHistogram();
  const samples: number[] = [];
  let x = 7;
  for (let i = 0; i < 5000; i++) {
    x = (x * 48271) % 2147483647;
    const ms = (x % 100_000) / 1000 + (i % 50 === 0 ? 400 : 0);
    samples.push(ms);
    histogram.record(ms);
  }
  samples.sort((a, b) => a - b);
  for (const p of [50, 90, 99]) {
    const exact = percentile(samples, p);
    t.ok(Math.abs(histogram.percentile(p) - exact) <= 0.1, `p${p}: ${histogram.percentile(p)} against ${exact}`);
  }
  t.equal(histogram.max, samples.at(-1), 'the maximum is exact');
  t.equal(histogram.count, 5000);
  t.ok(Number.isNaN(new LatencyHistogram().percentile(99)), 'an empty histogram has no percentile');
});

t.test('a latency beyond the last bucket still counts, and the maximum stays exact', async (t) => {
  const histogram = new LatencyHistogram();
  histogram.record(1);
  histogram.record(90_000);
  t.equal(histogram.percentile(100), 90_000);
  t.equal(histogram.summary().count, 2);
});

t.test('the process listening on a port is found through /proc', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as net.AddressInfo;
  t.equal(await pidListeningOn(port), process.pid, 'this test process');
  t.equal(await pidListeningOn(await freePort()), undefined, 'nobody listens on a free port');
});

t.test('a command started for a memory cgroup writes its own pid there, then runs with its arguments as that pid', async (t) => {
  const procsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'cgroup-')), 'cgroup.procs');
  const launch = joinAndExec(procsFile, process.execPath, [
    '-e',
    'process.stdout.write(`${process.pid} ${process.argv[1]}`)',
    'with space',
  ]);
  const run = spawnSync(launch.command, launch.args, { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const [pid, argument] = [run.stdout.slice(0, run.stdout.indexOf(' ')), run.stdout.slice(run.stdout.indexOf(' ') + 1)];
  t.equal(readFileSync(procsFile, 'utf8').trim(), pid, 'the pid that joined is the pid that ran the command');
  t.equal(argument, 'with space', 'arguments pass through unsplit');
  t.same(cgroupLayout(2, 'b').limitFile, '/sys/fs/cgroup/b/memory.max');
  t.same(cgroupLayout(1, 'b').limitFile, '/sys/fs/cgroup/memory/b/memory.limit_in_bytes');
});
