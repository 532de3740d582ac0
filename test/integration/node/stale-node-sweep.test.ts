// A test process killed with its node running (SIGKILL: no stop(), no exit hook) leaves the
// pods' containers and shims, mounts, cgroups and the network namespace; the next startNode()
// (here: sweepStaleNodes, which it calls first) removes them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { cgroupDirs, pidsInCgroups } from '../../peers/node/cgroups.ts';
import { hostChanges, list, mountsUnder, ownedHostEntries, processesOf, shimPids, snapshotHost, type NodeMarks } from '../../peers/node/cleanup.ts';
import { otherNodesRunning } from '../../peers/node/stale.ts';
import { netnsExists } from '../../peers/node/netns-bridge.ts';
import { nodeSkipReason, sweepStaleNodes } from '../../peers/node.ts';

const skip = nodeSkipReason();

interface Started {
  netns: string;
  scratch: string;
  inode: number;
  taskIds: string[];
}

/** Starts the fixture's node in a child process and SIGKILLs the child once its pod runs. */
function startNodeThenKill(): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../../fixtures/node/start-node-then-wait.ts')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child's node did not run a pod within 120 s; stderr: ${err.slice(-2000)}`));
    }, 120_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      child.once('exit', () => resolve(JSON.parse(line) as Started));
      child.kill('SIGKILL');
    });
    child.once('exit', (code) => {
      if (!out.includes('{')) {
        clearTimeout(timer);
        reject(new Error(`the child exited with ${code} before its node was up; stderr: ${err.slice(-2000)}`));
      }
    });
  });
}

describe('a node whose test process was killed', { skip }, () => {
  it('is removed by the next sweep: containers, shims, mounts, cgroups, network namespace, scratch directory, host paths and sysctls', async (t) => {
    const host = snapshotHost();
    const left = await startNodeThenKill();
    left.taskIds = list(path.join(left.scratch, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'k8s.io'));
    // The guards stop the daemons when their parent dies; what containerd started in its own session stays.
    const stranded = { containers: pidsInCgroups(left.netns).length, shims: shimPids(path.join(left.scratch, 'run', 'containerd.sock')).length, mounts: mountsUnder(left.scratch).length };
    t.diagnostic(`left by the killed process: ${JSON.stringify(stranded)}`);
    assert.ok(stranded.containers > 0 && stranded.mounts > 0 && (await netnsExists(left.netns)), 'the killed process left its node behind');

    const swept = await sweepStaleNodes();

    assert.ok(swept.includes(left.netns), `swept ${JSON.stringify(swept)}`);
    assert.deepEqual({
      processes: processesOf(left.scratch, left.inode),
      netns: await netnsExists(left.netns),
      mounts: mountsUnder(left.scratch),
      cgroups: cgroupDirs(left.netns),
      scratch: existsSync(left.scratch),
      // Another test file's node may be running: then only the entries marked as this node's count.
      hostPaths: (otherNodesRunning('') ? ownedHostEntries : (m: NodeMarks) => hostChanges(host, m))({ cniNetwork: left.netns, podLogsDir: path.join(left.scratch, 'podlogs'), containerdSocket: path.join(left.scratch, 'run', 'containerd.sock'), taskIds: left.taskIds }),
    }, { processes: [], netns: false, mounts: [], cgroups: [], scratch: false, hostPaths: [] });
  });
});
