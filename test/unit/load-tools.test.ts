/**
 * The measuring parts of the load tools: percentiles from the constant-memory
 * histogram agree with exact ones, and a listening port leads to its process.
 */
import t from 'tap';
import net from 'node:net';
import { LatencyHistogram } from '../../scripts/load/latency-histogram.js';
import { percentile } from '../../scripts/load/percentile.js';
import { pidListeningOn } from '../../scripts/load/proc-stats.js';
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
