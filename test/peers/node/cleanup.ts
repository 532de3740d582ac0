// What a node leaves outside its scratch directory, and how stop() finds and removes it. A few
// paths are hardcoded in the daemons (no flag moves them): libcni's result cache, the kubelet's
// device-plugins dir, the /var/log/containers links, containerd's shim sockets and runc state
// under /run/containerd. stop() removes only the entries that are this node's (by its CNI
// network name, its pod-log dir, its containerd socket and task ids), so a node started by
// another test file at the same time keeps its own; a directory that did not exist before
// this node started is removed once empty. The kubelet's device-plugins socket has one fixed
// name for every kubelet: it goes with /var/lib/kubelet when that did not exist before
// (no device plugins are used here).
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Deepest first, so a parent that did not exist is handled after its children.
const HARDCODED = [
  '/var/lib/cni/results', '/var/lib/cni',
  '/var/lib/kubelet/device-plugins', '/var/lib/kubelet',
  '/var/log/containers',
  '/run/containerd/s', '/run/containerd/runc/k8s.io', '/run/containerd/runc', '/run/containerd',
] as const;

// The kubelet sets these host-wide (kernel tunables it expects); stop() puts the old values back.
const SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'] as const;

/** Plain data: it is also kept in the node's record for a sweep after its process died. */
export interface HostSnapshot {
  /** Hardcoded directories that did not exist before the node started. */
  absent: string[];
  sysctls: Record<string, string>;
}

/** What marks a host entry as this node's. */
export interface NodeMarks {
  cniNetwork: string;
  podLogsDir: string;
  containerdSocket: string;
  /** Every sandbox and container id containerd ran (its v2 task dirs for namespace k8s.io). */
  taskIds: string[];
}

export function snapshotHost(): HostSnapshot {
  const absent = HARDCODED.filter((p) => !existsSync(p));
  const sysctls: Record<string, string> = {};
  for (const s of SYSCTLS) {
    try {
      sysctls[s] = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    } catch {
      // Not on this kernel.
    }
  }
  return { absent, sysctls };
}

export function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The shim socket name containerd 1.6 derives (runtime/v2/shim SocketAddress): sha256 of address/namespace/id. */
function shimSocket(containerdSocket: string, id: string): string {
  return path.join('/run/containerd/s', createHash('sha256').update(path.join(containerdSocket, 'k8s.io', id)).digest('hex'));
}

/** Present, even as a dangling symlink (the /var/log/containers links once the pod logs are gone). */
function present(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** This node's entries in the hardcoded paths. */
export function ownedHostEntries(m: NodeMarks): string[] {
  const ids = m.taskIds;
  const owned = [
    // "<network>-<sandbox id>-<ifname>": the pod network's, and CRI's own cni-loopback's.
    ...list('/var/lib/cni/results').filter((f) => f.startsWith(`${m.cniNetwork}-`) || ids.some((id) => f.includes(`-${id}-`))).map((f) => path.join('/var/lib/cni/results', f)),
    ...list('/var/log/containers').map((f) => path.join('/var/log/containers', f)).filter((f) => {
      try {
        return readlinkSync(f).startsWith(`${m.podLogsDir}/`);
      } catch {
        return false;
      }
    }),
    ...ids.map((id) => shimSocket(m.containerdSocket, id)),
    ...ids.map((id) => path.join('/run/containerd/runc/k8s.io', id)),
  ];
  return owned.filter(present);
}

/** Entries of this node, directories it made, and sysctls it changed, still on the host. */
export function hostChanges(snap: HostSnapshot, m: NodeMarks): string[] {
  const changes = ownedHostEntries(m);
  // Exact when this is the only node on the machine; another running node's entries would show here too.
  for (const p of HARDCODED) if (snap.absent.includes(p) && existsSync(p)) changes.push(`${p} (created)`);
  for (const [s, v] of Object.entries(snap.sysctls)) {
    const now = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    if (now !== v) changes.push(`sysctl ${s}=${now} (was ${v})`);
  }
  return changes;
}

export function restoreHost(snap: HostSnapshot, m: NodeMarks): void {
  for (const p of ownedHostEntries(m)) rmSync(p, { recursive: true, force: true });
  if (snap.absent.includes('/var/lib/kubelet')) rmSync('/var/lib/kubelet', { recursive: true, force: true });
  for (const p of HARDCODED) {
    if (!snap.absent.includes(p) || !existsSync(p)) continue;
    try {
      rmdirSync(p);
    } catch {
      // Not empty: another node's entries are in it.
    }
  }
  for (const [s, v] of Object.entries(snap.sysctls)) {
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
