// Processes for the proxy benchmark, observed only from outside: /proc/<pid>/stat for CPU time,
// /proc/<pid>/status for resident memory, taskset for pinning. Nothing here asks the measured
// process for anything, so what is measured is the process as it ships.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (`getconf CLK_TCK`). */
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The core the measured servers run on; the load generators and everything else get the other. */
export const SERVER_CORE = 0;
export const OTHER_CORE = 1;

/**
 * The nice value of the measured servers, the load generators and the bench process: 0, or
 * negative (run.ts --nice) so that other work on a shared machine does not take their cores.
 */
export const priority = { nice: 0 };

/** `command args` prefixed so it runs at `priority.nice` (nice execs: the pid stays the command's). */
export function prioritized(command: string, args: string[]): [string, string[]] {
  return priority.nice === 0 ? [command, args] : ['nice', ['-n', String(priority.nice), command, ...args]];
}

/** user + system CPU of every thread of the process so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1e6) / CLOCK_TICKS;
}

/**
 * On-CPU time of every live thread of the process so far, in nanoseconds (the first field of
 * /proc/<pid>/task/<tid>/schedstat): for windows too short for utime+stime's clock ticks (10 ms).
 * Threads that exited within the window are not counted; node's threads live as long as the process.
 */
export function cpuNanos(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return total;
}

/** VmRSS and VmHWM (the peak resident set since the process started) in bytes. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (children, their children, …). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    if (ppid !== undefined) parents.set(Number(name), ppid);
  }
  const out: number[] = [];
  const frontier = [root];
  // Bounded: each pid enters the frontier at most once (a pid has one parent).
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, ppid] of parents) {
      if (ppid === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

/** Pins every thread of `pid` to `core`. */
export function pin(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

export interface Pinned {
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const started = new Set<Pinned>();

/**
 * Starts `command` on one core (taskset execs it, so the pid is the command's own). Output goes
 * to `logFile`, as a container runtime would take it: the process writes its logs for real.
 */
export function startPinned(core: number, command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Pinned {
  const fd = openSync(logFile, 'a');
  const [cmd, cmdArgs] = prioritized(command, args);
  const child = spawn('taskset', ['-c', String(core), cmd, ...cmdArgs], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const p: Pinned = {
    child,
    pid: child.pid!,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      started.delete(p);
    },
  };
  started.add(p);
  return p;
}

/** Kills whatever startPinned started and is still running (on the way out, also on errors). */
export function killAllPinned(): void {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  started.clear();
}

export function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
