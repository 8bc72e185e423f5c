/**
 * The local processes of a load run, watched through /proc: each instance found by
 * the port it listens on, plus any named with --pids (Redis, DynamoDB Local). Resident
 * memory is sampled while the run goes (its peak kept) and CPU seconds read at the
 * marks the run sets. Remote targets have no entry: their figures are absent, not zero.
 */
import { cpuSecondsIfAlive, peakResidentMiB, pidListeningOn, residentMiB } from './proc-stats.js';
import type { Target } from './load-options.js';

export interface WatchedProcess {
  name: string;
  pid: number;
  target?: Target;
  peakRssMiB: number;
  marks: Map<string, { cpuSeconds: number; rssMiB: number }>;
}

export interface ProcessFigures {
  name: string;
  pid: number;
  cpuSeconds: number;
  /** cpuSeconds over the phase's wall time: 100 is one core busy the whole time. */
  percentOfCore: number;
  peakRssMiB: number;
  /** The highest RSS since the process started (VmHWM), which may predate this run. */
  peakRssSinceStartMiB: number | undefined;
}

export async function watchProcesses(targets: Target[], extra: { name: string; pid: number }[]): Promise<WatchedProcess[]> {
  const watched: WatchedProcess[] = [];
  for (const target of targets) {
    if (!target.local) continue;
    const pid = await pidListeningOn(target.port);
    if (pid !== undefined) watched.push({ name: `instance ${target.baseUrl}`, pid, target, peakRssMiB: 0, marks: new Map() });
  }
  for (const { name, pid } of extra) watched.push({ name, pid, peakRssMiB: 0, marks: new Map() });
  return watched;
}

export async function sampleMemory(watched: WatchedProcess[]): Promise<void> {
  await Promise.all(
    watched.map(async (p) => {
      const rss = await residentMiB(p.pid).catch(() => 0);
      if (rss > p.peakRssMiB) p.peakRssMiB = rss;
    }),
  );
}

export async function mark(watched: WatchedProcess[], label: string): Promise<void> {
  await Promise.all(
    watched.map(async (p) => {
      const cpuSeconds = (await cpuSecondsIfAlive(p.pid)) ?? NaN;
      const rssMiB = await residentMiB(p.pid).catch(() => NaN);
      if (rssMiB > p.peakRssMiB) p.peakRssMiB = rssMiB;
      p.marks.set(label, { cpuSeconds, rssMiB });
    }),
  );
}

/** Each process's CPU between two marks and its peak memory so far. */
export async function figuresBetween(watched: WatchedProcess[], from: string, to: string, wallSeconds: number): Promise<ProcessFigures[]> {
  return Promise.all(
    watched.map(async (p) => {
      const cpu = (p.marks.get(to)?.cpuSeconds ?? NaN) - (p.marks.get(from)?.cpuSeconds ?? NaN);
      return {
        name: p.name,
        pid: p.pid,
        cpuSeconds: +cpu.toFixed(2),
        percentOfCore: +((cpu / wallSeconds) * 100).toFixed(1),
        peakRssMiB: +p.peakRssMiB.toFixed(1),
        peakRssSinceStartMiB: await peakResidentMiB(p.pid).then((v) => (v === undefined ? undefined : +v.toFixed(1))),
      };
    }),
  );
}
