/**
 * What Linux says about a process, read from /proc: CPU seconds, resident memory,
 * and which process listens on a TCP port. Every reader answers undefined (never
 * throws) when /proc or the process is not there: figures of remote targets are
 * simply absent.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

/** CPU seconds (user + system) a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicksPerSecond();
}

export async function cpuSecondsIfAlive(pid: number): Promise<number | undefined> {
  return cpuSeconds(pid).catch(() => undefined);
}

let ticksPerSecond: number | undefined;
function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticksPerSecond = Number(out.stdout.trim()) || 100;
  }
  return ticksPerSecond;
}

async function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Resident memory of a process now, in MiB. */
export function residentMiB(pid: number): Promise<number> {
  return statusField(pid, 'VmRSS');
}

/** The highest resident memory a process has had since it started (VmHWM), in MiB. */
export function peakResidentMiB(pid: number): Promise<number | undefined> {
  return statusField(pid, 'VmHWM').catch(() => undefined);
}

/** The short command name of a process (`node`, `redis-server`, `java`). */
export async function commandName(pid: number): Promise<string | undefined> {
  return readFile(`/proc/${pid}/comm`, 'utf8').then(
    (name) => name.trim(),
    () => undefined,
  );
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The process listening on a TCP port of this machine: the socket's inode from
 * /proc/net/tcp{,6} (state 0A is LISTEN), then the process holding that inode among
 * /proc/<pid>/fd. Only this user's processes can be searched.
 */
export async function pidListeningOn(port: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      const localPort = parseInt(columns[1]?.split(':')[1] ?? '', 16);
      if (localPort === port && columns[3] === '0A' && columns[9] && columns[9] !== '0') inodes.add(columns[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
      if (wanted.has(target)) return Number(entry);
    }
  }
  return undefined;
}

/** Every descendant of a process (children, their children, ...), from /proc/<pid>/stat. */
export async function descendantsOf(rootPid: number): Promise<number[]> {
  const parentOf = new Map<number, number>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parentOf.set(Number(entry), Number(fields[1]));
  }
  const found: number[] = [];
  let frontier = [rootPid];
  while (frontier.length > 0) {
    const next = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}
