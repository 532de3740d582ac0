// Nodes whose test process died without stop() (SIGKILL, a crash, a missing after()): the
// process guards end the daemons, but the pods' containers and shims (containerd starts them
// in their own session), the mounts, the cgroups and the network namespace stay. Each node
// records itself under /run (tmpfs: gone on reboot, as the namespaces are); startNode() sweeps
// the records whose process is gone before it starts another node.
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pollUntil } from './api.ts';
import { pidsInCgroups, removeCgroups } from './cgroups.ts';
import { killAll, list, ownedHostEntries, processesOf, restoreHost, shimPids, unmountUnder, type HostSnapshot } from './cleanup.ts';
import { deleteNetns } from './netns-bridge.ts';

export const registryDir = '/run/podiam-node';

export interface NodeRecord {
  netns: string;
  scratch: string;
  containerdSocket: string;
  /** The host as it was before the node started. */
  host: HostSnapshot;
  startedAt: number;
  pid: number;
  /** The owner's start time (field 22 of /proc/<pid>/stat), so a reused pid is not taken for it. */
  pidStart: string;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function register(r: Omit<NodeRecord, 'pid' | 'pidStart' | 'startedAt'>): void {
  mkdirSync(registryDir, { recursive: true });
  const rec: NodeRecord = { ...r, startedAt: Date.now(), pid: process.pid, pidStart: processStart(process.pid) ?? '' };
  writeFileSync(path.join(registryDir, `${r.netns}.json`), JSON.stringify(rec));
}

export function unregister(netns: string): void {
  rmSync(path.join(registryDir, `${netns}.json`), { force: true });
  try {
    rmdirSync(registryDir);
  } catch {
    // Another node's record is in it.
  }
}

function records(): NodeRecord[] {
  const out: NodeRecord[] = [];
  for (const f of list(registryDir).filter((n) => n.endsWith('.json'))) {
    try {
      out.push(JSON.parse(readFileSync(path.join(registryDir, f), 'utf8')) as NodeRecord);
    } catch {
      // Half-written by a node starting right now: not stale.
    }
  }
  return out;
}

const alive = (r: NodeRecord): boolean => processStart(r.pid) === r.pidStart;

/** True when a node other than `netns` is running (its process alive). */
export function otherNodesRunning(netns: string): boolean {
  return records().some((r) => r.netns !== netns && alive(r));
}

/** The host as it was before any running node started: the oldest running node's snapshot, else `now`. */
export function hostBeforeNodes(now: HostSnapshot): HostSnapshot {
  const running = records().filter(alive).sort((a, b) => a.startedAt - b.startedAt);
  return running[0]?.host ?? now;
}

/** Everything a dead node left, removed without its API server (it died with the node). */
export async function teardownOffline(r: Pick<NodeRecord, 'netns' | 'scratch' | 'containerdSocket' | 'host'>, otherNodesRunning: boolean): Promise<void> {
  const taskIds = list(path.join(r.scratch, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'k8s.io'));
  const marks = { cniNetwork: r.netns, podLogsDir: path.join(r.scratch, 'podlogs'), containerdSocket: r.containerdSocket, taskIds };
  let inode = -1;
  try {
    inode = statSync(`/run/netns/${r.netns}`).ino;
  } catch {
    // Namespace already gone.
  }
  // Bounded rounds: a container's processes may fork while being killed.
  for (let i = 0; i < 5 && pidsInCgroups(r.netns).length; i++) killAll(pidsInCgroups(r.netns));
  killAll(shimPids(r.containerdSocket));
  killAll(processesOf(r.scratch, inode));
  await pollUntil(`${r.netns}'s processes gone`, 10_000, async () => (processesOf(r.scratch, inode).length === 0 && pidsInCgroups(r.netns).length === 0 ? true : undefined), 100);
  await unmountUnder(r.scratch);
  await pollUntil(`${r.netns}'s cgroups removed`, 5_000, async () => (removeCgroups(r.netns).length === 0 ? true : undefined), 100);
  await deleteNetns(r.netns);
  // The shared directories and the kubelet's sysctls only when no other node still uses them.
  if (otherNodesRunning) for (const p of ownedHostEntries(marks)) rmSync(p, { recursive: true, force: true });
  else restoreHost(r.host, marks);
  rmSync(r.scratch, { recursive: true, force: true });
}

/** Tears down every recorded node whose test process is gone; returns their namespaces. */
export async function sweepStaleNodes(): Promise<string[]> {
  if (!existsSync(registryDir)) return [];
  const all = records();
  const stale = all.filter((r) => !alive(r));
  const othersRunning = all.some(alive);
  // Newest first, so the oldest snapshot (the host before any of them) is put back last.
  for (const rec of stale.sort((a, b) => b.startedAt - a.startedAt)) {
    await teardownOffline(rec, othersRunning);
    unregister(rec.netns);
  }
  return stale.map((r) => r.netns);
}
