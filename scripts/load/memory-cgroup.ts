/**
 * A Linux memory cgroup for the servers a benchmark starts, so that they run as on an
 * ECS task of that size: Node sizes V8's heap from the cgroup's limit
 * (`process.constrainedMemory()`), and what an instance holds at rest depends on that
 * sizing. `--max-old-space-size` does not reproduce it (it leaves the young generation
 * at the size of the machine's memory).
 *
 * Needs write access to the cgroup file system (root, or a delegated subtree); both
 * cgroup v2 (`memory.max`) and v1 (`memory.limit_in_bytes`) are handled. A process
 * joins by writing its own pid before it execs the server, so everything it starts
 * is inside from the first instruction.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface MemoryCgroup {
  limitMiB: number;
  /** `command args...` rewritten to join the cgroup and then exec the command. */
  wrap(command: string, args: string[]): { command: string; args: string[] };
  /** Removes the cgroup; call once every process in it has exited. */
  remove(): Promise<void>;
}

/** Where a new cgroup named `name` goes, and the files that set its limit and take its processes. */
export function cgroupLayout(version: 1 | 2, name: string): { dir: string; limitFile: string; procsFile: string } {
  const dir = version === 2 ? path.join(CGROUP_ROOT, name) : path.join(CGROUP_ROOT, 'memory', name);
  return {
    dir,
    limitFile: path.join(dir, version === 2 ? 'memory.max' : 'memory.limit_in_bytes'),
    procsFile: path.join(dir, 'cgroup.procs'),
  };
}

/** The shell step that moves itself into the cgroup and becomes the command (pid unchanged). */
export function joinAndExec(procsFile: string, command: string, args: string[]): { command: string; args: string[] } {
  return { command: '/bin/sh', args: ['-c', 'echo $$ > "$0" && exec "$@"', procsFile, command, ...args] };
}

export async function createMemoryCgroup(limitMiB: number): Promise<MemoryCgroup> {
  const version = existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers')) ? 2 : 1;
  const layout = cgroupLayout(version, `huddle-bench-${process.pid}`);
  try {
    if (version === 2) {
      const enabled = await readFile(path.join(CGROUP_ROOT, 'cgroup.subtree_control'), 'utf8');
      if (!enabled.split(/\s+/).includes('memory')) await writeFile(path.join(CGROUP_ROOT, 'cgroup.subtree_control'), '+memory');
    }
    await mkdir(layout.dir);
    await writeFile(layout.limitFile, String(limitMiB * 2 ** 20));
  } catch (err) {
    throw new Error(
      `--memory-limit needs a memory cgroup it can create (${layout.dir}): ${err instanceof Error ? err.message : String(err)}. ` +
        'Run as root on Linux, or leave the option out.',
      { cause: err },
    );
  }
  return {
    limitMiB,
    wrap: (command, args) => joinAndExec(layout.procsFile, command, args),
    remove: () => rmdir(layout.dir).catch(() => {}),
  };
}
