// What a node leaves outside its scratch directory, and how stop() finds and removes it. A few
// paths are hardcoded in the daemons (no flag moves them): libcni's result cache, the kubelet's
// device-plugins dir, the /var/log/containers links, containerd's shim sockets and runc state
// under /run/containerd. Those are snapshotted before the node starts and put back afterwards
// (entries made meanwhile removed; a directory that did not exist removed). Two nodes started
// at the same time on one machine would share them; the tests start one per file.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Deepest first, so a parent that did not exist is removed after its children are handled.
const HARDCODED = [
  '/var/lib/cni/results', '/var/lib/cni',
  '/var/lib/kubelet/device-plugins', '/var/lib/kubelet',
  '/var/log/containers',
  '/run/containerd/s', '/run/containerd/runc/k8s.io', '/run/containerd/runc', '/run/containerd',
] as const;

// The kubelet sets these host-wide (kernel tunables it expects); stop() puts the old values back.
const SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'] as const;

export interface HostSnapshot {
  paths: Map<string, Set<string> | null>;
  sysctls: Map<string, string>;
}

export function snapshotHost(): HostSnapshot {
  const paths = new Map<string, Set<string> | null>();
  for (const p of HARDCODED) paths.set(p, existsSync(p) ? new Set(readdirSync(p)) : null);
  const sysctls = new Map<string, string>();
  for (const s of SYSCTLS) {
    try {
      sysctls.set(s, readFileSync(`/proc/sys/${s}`, 'utf8').trim());
    } catch {
      // Not on this kernel.
    }
  }
  return { paths, sysctls };
}

/** Entries (and directories) in the hardcoded paths and sysctl values that differ from `snap`. */
export function hostChanges(snap: HostSnapshot): string[] {
  const changes: string[] = [];
  for (const [p, before] of snap.paths) {
    if (!existsSync(p)) continue;
    if (before === null) changes.push(`${p} (created)`);
    else for (const e of readdirSync(p)) if (!before.has(e)) changes.push(path.join(p, e));
  }
  for (const [s, v] of snap.sysctls) {
    const now = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    if (now !== v) changes.push(`sysctl ${s}=${now} (was ${v})`);
  }
  return changes;
}

export function restoreHost(snap: HostSnapshot): void {
  for (const [p, before] of snap.paths) {
    if (!existsSync(p)) continue;
    if (before === null) {
      rmSync(p, { recursive: true, force: true });
      continue;
    }
    for (const e of readdirSync(p)) if (!before.has(e)) rmSync(path.join(p, e), { recursive: true, force: true });
  }
  for (const [s, v] of snap.sysctls) {
    try {
      if (readFileSync(`/proc/sys/${s}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${s}`, v);
    } catch {
      // Read-only here: nothing to put back.
    }
  }
}

/** Mount points at or under `dir`, deepest first (mountinfo escapes spaces as \040). */
export function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything under `dir`; rounds, because shared bind mounts (kubelet's root dir) show mounts twice. */
export async function unmountUnder(dir: string): Promise<string[]> {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) return [];
    for (const m of points) {
      await run('umount', [m], { timeout: 10_000 }).catch(() => run('umount', ['-l', m], { timeout: 10_000 }).catch(() => undefined));
    }
  }
  return mountsUnder(dir);
}

function cmdline(pid: string): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function numericDirs(): string[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d));
}

/** containerd-shim processes of the containerd listening on `socket` (they leave containerd's process group). */
export function shimPids(socket: string): number[] {
  return numericDirs().filter((pid) => {
    const argv = cmdline(pid);
    return (argv[0] ?? '').endsWith('containerd-shim-runc-v2') && argv.includes(socket);
  }).map(Number);
}

/** PIDs of processes whose command line mentions `dir` or that live in the network namespace with inode `netnsInode`. */
export function processesOf(dir: string, netnsInode: number): number[] {
  return numericDirs().filter((pid) => {
    if (Number(pid) === process.pid) return false;
    if (cmdline(pid).some((a) => a.includes(dir))) return true;
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${netnsInode}]`;
    } catch {
      return false;
    }
  }).map(Number);
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}
