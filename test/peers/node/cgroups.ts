// The node's cgroup root: kubelet (cgroupfs driver) puts kubepods and every pod under it. It is
// made in each v1 hierarchy before the kubelet starts, and removed, deepest first, after every
// process in it is gone. runc (hybrid mode) adds the same path under the v2 `unified` mount.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const cgroupFs = '/sys/fs/cgroup';

/** Every mounted hierarchy directory (cpu, memory, ..., systemd, unified). */
function hierarchies(): string[] {
  if (!existsSync(cgroupFs)) return [];
  return readdirSync(cgroupFs).map((h) => path.join(cgroupFs, h)).filter((d) => {
    try {
      return statSync(d).isDirectory() && existsSync(path.join(d, 'cgroup.procs'));
    } catch {
      return false;
    }
  });
}

export function createCgroupRoot(name: string): void {
  for (const h of hierarchies()) {
    if (h.endsWith('/unified')) continue;
    const dir = path.join(h, name);
    mkdirSync(dir, { recursive: true });
    // A new cpuset cgroup starts with no CPUs and no memory nodes: nothing could run in it.
    if (h.endsWith('/cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(path.join(dir, f), readFileSync(path.join(h, f)));
    }
  }
}

/** Every cgroup directory under `name`, in every hierarchy, deepest first. */
export function cgroupDirs(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
    out.push(dir);
  };
  for (const h of hierarchies()) {
    const root = path.join(h, name);
    if (existsSync(root)) walk(root);
  }
  return out;
}

/** PIDs of every process in the node's cgroups (containers; the kubelet itself is not in them). */
export function pidsInCgroups(name: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(name)) {
    try {
      for (const l of readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch {
      // Removed meanwhile.
    }
  }
  return [...pids];
}

/** Removes the node's cgroups deepest first; returns the directories that could not be removed. */
export function removeCgroups(name: string): string[] {
  const left: string[] = [];
  for (const d of cgroupDirs(name)) {
    try {
      rmdirSync(d);
    } catch {
      left.push(d);
    }
  }
  return left;
}
