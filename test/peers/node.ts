// A real one-node Kubernetes cluster for the tests (issue 12): startKube's kube-apiserver and
// etcd, kube-controller-manager and kube-scheduler on root-namespace loopback, and containerd
// plus the kubelet inside a network namespace made here, pods on a CNI bridge in 203.0.113.0/24.
// Nothing is added to the root namespace's interfaces, routes or iptables: ns-bridge joins the
// two namespaces with sockets (node/netns-bridge.ts). Binaries: scripts/peers/install-kube.sh;
// containerd, runc, CNI plugins, umoci, skopeo: scripts/peers/install-system.sh. Needs root.
// Never dial a pod or node address (203.0.113.0/24) from the root namespace: its only route
// there is the default one, out of eth0 to the machine's real network. Go through the API
// server (logs, exec), execInNode, or `expose` for the other direction.
//
//   const node = await startNode();
//   after(() => node.stop());
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKube, type Kube } from './kube.ts';
import { PeerStartError, type PeerProcess } from './process.ts';
import { cacheDir } from './tools.ts';
import { apiRequest, pollUntil } from './node/api.ts';
import { writeNodePki } from './node/certs.ts';
import { createCgroupRoot, pidsInCgroups, removeCgroups, cgroupDirs } from './node/cgroups.ts';
import { hostChanges, killAll, list, mountsUnder, ownedHostEntries, processesOf, restoreHost, shimPids, snapshotHost, unmountUnder, type NodeMarks } from './node/cleanup.ts';
import { containerdPaths, importImage, sandboxImage, startContainerd } from './node/containerd.ts';
import { startControllerManager, startScheduler } from './node/control-plane.ts';
import { buildImage } from './node/images.ts';
import { startKubelet } from './node/kubelet.ts';
import { hostBeforeNodes, otherNodesRunning, register, sweepStaleNodes, unregister } from './node/stale.ts';
import { apiPortInside, createNetns, deleteNetns, execInNetns, netnsExists, nodeIp, podGateway, startNsBridge, type Expose } from './node/netns-bridge.ts';

export { nodeIp, podGateway, podSubnet, kubernetesServiceIp, type Expose } from './node/netns-bridge.ts';
export { buildImage, type ImageSpec } from './node/images.ts';
export { sweepStaleNodes } from './node/stale.ts';

/** An image with node-probe (scripts/peers/node-helpers/node-probe) as entrypoint, always imported. */
export const probeImage = 'docker.io/local/node-probe:1';

export interface StartNodeOptions {
  /** Root-namespace loopback services to offer inside the node namespace (pods, hostNetwork pods). */
  expose?: Expose[];
  /** More kube-apiserver flags (after the node's own). */
  apiserverArgs?: string[];
}

export interface NodeLeftovers {
  processes: number[];
  netns: boolean;
  mounts: string[];
  cgroups: string[];
  hostPaths: string[];
  scratch: boolean;
}

export interface KubeNode {
  kube: Kube;
  kubeconfigPath: string;
  /** The kubelet's own credentials (system:node:<name>), e.g. to test what a node may do. */
  kubeletKubeconfigPath: string;
  nodeName: string;
  netns: string;
  /** The CNI bridge in the node namespace (pods' veths; the chart's `hostInterface`). */
  bridge: string;
  /** The node's own directory (configs, containerd root and state, kubelet root, pod logs). */
  scratchDir: string;
  /** ctr images import into the node's containerd (namespace k8s.io); returns the names imported. */
  importImage(archivePath: string): Promise<string[]>;
  /** Runs a command to completion in the node's network namespace (nsenter --net). */
  execInNode(command: string, args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Resident memory (kB) of each daemon, by name. */
  rss(): Record<string, number>;
  /** Milliseconds from startNode() to the Node being Ready. */
  upMs: number;
  /** Milliseconds from startNode() to each start-up milestone, for the notes on cost. */
  milestones: Record<string, number>;
  /** What is left of the node on this machine; all empty/false after stop(). */
  leftovers(): Promise<NodeLeftovers>;
  /** Removes everything the node made; bounded, safe to call twice. Resolves with the milliseconds it took. */
  stop(): Promise<number>;
}

/**
 * Why a real node cannot start on this machine, as a PODIAM_SKIP reason (with CI set, scripts/test.mjs
 * fails on such a skip), or false when it can.
 */
export function nodeSkipReason(): false | string {
  const missing = [
    process.getuid?.() !== 0 ? 'root' : '',
    existsSync('/usr/bin/containerd') ? '' : 'containerd (scripts/peers/install-system.sh)',
  ].filter(Boolean);
  return missing.length ? `PODIAM_SKIP: needs ${missing.join(', ')}` : false;
}

let started = 0;

/** PeerStartError's message names the install command. */
function need(file: string): string {
  if (!existsSync(file)) throw new PeerStartError('node', `${file} is missing`, '');
  return file;
}

/** The daemon under a startProcess guard (the guard's only child; nsenter execs, so it is the daemon). */
function daemonPid(guardPid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${guardPid}/task/${guardPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids[0];
  } catch {
    return undefined;
  }
}

function pidWithArg(program: string, arg: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if ((argv[0] ?? '').endsWith(`/${program}`) && argv.includes(arg)) return Number(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

function rssKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function startNode(opts: StartNodeOptions = {}): Promise<KubeNode> {
  const t0 = Date.now();
  const milestones: Record<string, number> = {};
  const mark = (what: string): number => (milestones[what] = Date.now() - t0);
  if (process.getuid?.() !== 0) throw new PeerStartError('node', 'needs root (network namespaces, containerd, cgroups)', '');
  const bin = path.join(cacheDir, 'bin');
  const [kubeletBin, kcmBin, schedBin, bridgeBin, pauseBin, probeBin] = ['kubelet', 'kube-controller-manager', 'kube-scheduler', 'ns-bridge', 'pause', 'node-probe'].map((n) => need(path.join(bin, n))) as [string, string, string, string, string, string];
  need('/usr/bin/containerd');

  // A node of a test process that died without stop() would otherwise stay (and may hold this name).
  await sweepStaleNodes();
  const tag = `${process.pid % 100000}${started++ ? `x${started}` : ''}`;
  const netns = `podiam-node-${tag}`;
  const bridge = `pdmbr${tag}`.slice(0, 15);
  const nodeName = netns;
  const scratch = mkdtempSync(path.join(tmpdir(), 'podiam-node-'));
  const expose = opts.expose ?? [];
  // With another node running, its snapshot is the host before both: the last node to stop puts that back.
  const snap = hostBeforeNodes(snapshotHost());
  const procs: Record<string, PeerProcess> = {};
  let kube: Kube | undefined;
  let containerdSocket = '';
  let netnsInode = -1;
  // Task ids are remembered: a task's dir goes when containerd deletes it, or with the scratch dir.
  const taskIds = new Set<string>();
  const marks = (): NodeMarks => {
    for (const id of list(path.join(scratch, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'k8s.io'))) taskIds.add(id);
    return { cniNetwork: netns, podLogsDir: path.join(scratch, 'podlogs'), containerdSocket, taskIds: [...taskIds] };
  };

  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      const s0 = Date.now();
      const step = async (what: string, fn: () => Promise<unknown> | unknown): Promise<void> => {
        try {
          await fn();
        } catch (err: unknown) {
          process.stderr.write(`podiam node stop: ${what}: ${String(err)}\n`);
        }
      };
      // The controllers first, or the DaemonSet controller recreates the pods we delete.
      marks();
      await step('controllers', () => Promise.all([procs.kcm?.stop(), procs.scheduler?.stop()]));
      if (kube && procs.kubelet) {
        const k = kube;
        await step('force-delete pods', async () => {
          const list = await apiRequest(k, 'GET', '/api/v1/pods');
          const items = (list.json as { items?: Array<{ metadata: { name: string; namespace: string } }> }).items ?? [];
          await Promise.all(items.map((p) => apiRequest(k, 'DELETE', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}?gracePeriodSeconds=0`)));
        });
        // The kubelet stops the containers of pods that are gone; bounded, the kill below is the backstop.
        await step('containers stopped', () => pollUntil('containers stopped', 15_000, async () => (pidsInCgroups(netns).length === 0 ? true : undefined), 250));
      }
      await step('kubelet', () => procs.kubelet?.stop());
      await step('container processes', () => {
        // Bounded rounds: a container's processes may fork while being killed.
        for (let i = 0; i < 5 && pidsInCgroups(netns).length; i++) killAll(pidsInCgroups(netns));
      });
      if (containerdSocket) await step('shims', () => killAll(shimPids(containerdSocket)));
      await step('containerd', () => procs.containerd?.stop());
      await step('ns-bridge', () => procs.bridge?.stop());
      await step('kube', () => kube?.stop());
      await step('mounts', () => unmountUnder(scratch));
      await step('cgroups', () => pollUntil('cgroups removed', 5_000, async () => (removeCgroups(netns).length === 0 ? true : undefined), 100));
      await step('netns', () => deleteNetns(netns));
      await step('host paths', () => {
        // Another node still uses the shared directories and the kubelet's sysctls: only ours go.
        if (otherNodesRunning(netns)) for (const p of ownedHostEntries(marks())) rmSync(p, { recursive: true, force: true });
        else restoreHost(snap, marks());
      });
      await step('scratch', () => rmSync(scratch, { recursive: true, force: true }));
      unregister(netns);
      return Date.now() - s0;
    })();
    return stopping;
  };

  const leftovers = async (): Promise<NodeLeftovers> => ({
    processes: processesOf(scratch, netnsInode),
    netns: await netnsExists(netns),
    mounts: mountsUnder(scratch),
    cgroups: cgroupDirs(netns),
    // Exact when no other node runs; otherwise the shared directories are in use, so only ours count.
    hostPaths: otherNodesRunning(netns) ? ownedHostEntries(marks()) : hostChanges(snap, marks()),
    scratch: existsSync(scratch),
  });

  try {
    register({ netns, scratch, containerdSocket: containerdPaths(scratch).socket, host: snap });
    await createNetns(netns, expose);
    mark('netns');
    netnsInode = statSync(`/run/netns/${netns}`).ino;
    const egressSocket = path.join(scratch, 'run', 'egress.sock');
    const egressConfig = path.join(scratch, 'egress.json');
    // The API server dials kubelets and pods (exec, logs) through ns-bridge's CONNECT socket.
    // Webhooks by URL use the control-plane egress (not configured: a direct dial, so one on
    // root loopback works); webhooks by Service would use this one and need kube-proxy (none).
    writeFileSync(egressConfig, JSON.stringify({
      apiVersion: 'apiserver.k8s.io/v1beta1', kind: 'EgressSelectorConfiguration',
      egressSelections: [{ name: 'cluster', connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: egressSocket } } } }],
    }));
    const imagesDir = path.join(scratch, 'images');
    const [k, ctd, pauseTar, probeTar] = await Promise.all([
      startKube({
        serverIps: [nodeIp, podGateway],
        serviceAccounts: true,
        kubeletClient: true,
        extraArgs: [
          // Both are list flags, and a repeated list flag appends (pflag StringSlice): these add
          // the Node authorizer to kube.ts's RBAC, and NodeRestriction to its admission plugins.
          '--authorization-mode=Node',
          '--enable-admission-plugins=NodeRestriction',
          `--egress-selector-config-file=${egressConfig}`,
          // The default tries the Hostname first, which no resolver here knows.
          '--kubelet-preferred-address-types=InternalIP',
          ...(opts.apiserverArgs ?? []),
        ],
      }),
      (async () => {
        createCgroupRoot(netns);
        return startContainerd(scratch, netns, netns, bridge);
      })(),
      (async () => {
        mkdirSync(imagesDir, { recursive: true });
        return buildImage(imagesDir, { name: sandboxImage, files: { '/pause': pauseBin }, entrypoint: ['/pause'] });
      })(),
      (async () => {
        mkdirSync(imagesDir, { recursive: true });
        return buildImage(imagesDir, { name: probeImage, files: { '/node-probe': probeBin, '/pause': pauseBin }, entrypoint: ['/node-probe'] });
      })(),
    ]);
    kube = k;
    procs.containerd = ctd.proc;
    containerdSocket = ctd.paths.socket;
    const importing = Promise.all([importImage(containerdSocket, pauseTar), importImage(containerdSocket, probeTar)]);
    // Awaited below; if a step in between fails first, stop() ends containerd and this rejects unawaited.
    importing.catch(() => undefined);
    mark('apiserver, containerd, images built');
    procs.bridge = await startNsBridge(bridgeBin, netns, k.port, egressSocket, expose);
    const pki = await writeNodePki(k, scratch, nodeName, nodeIp, `https://127.0.0.1:${apiPortInside}`);
    // The controller manager takes seconds to make the first ServiceAccounts (tests' pods need
    // `default`); the kubelet registers meanwhile. All settle before a failure is thrown, so
    // stop() sees every process that started.
    const started = await Promise.allSettled([
      startControllerManager(kcmBin, k, pki, async () => (await apiRequest(k, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200)
        .then((p) => ((procs.kcm = p), mark('controller-manager'))),
      startScheduler(schedBin, pki).then((p) => (procs.scheduler = p)),
      importing.then(() => mark('images imported')).then(() => startKubelet(
        { bin: kubeletBin, scratch, netns, nodeName, nodeIp, cgroupRoot: netns, containerdSocket, pki },
        async () => {
          const r = await apiRequest(k, 'GET', `/api/v1/nodes/${nodeName}`);
          const conditions = (r.json as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
          return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
        },
      )).then((p) => ((procs.kubelet = p), mark('kubelet Ready'))),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const upMs = mark('node Ready');
    return {
      kube: k,
      kubeconfigPath: k.kubeconfigPath,
      kubeletKubeconfigPath: pki.kubeletKubeconfig,
      nodeName,
      netns,
      scratchDir: scratch,
      bridge,
      upMs,
      milestones,
      importImage: (archive) => importImage(containerdSocket, archive),
      execInNode: (command, args, timeoutMs) => execInNetns(netns, command, args, timeoutMs),
      rss: () => ({
        // kube.ts starts these under its own watchdog; found by the flags that name this cluster.
        'kube-apiserver': rssKb(pidWithArg('kube-apiserver', `--secure-port=${k.port}`)),
        etcd: rssKb(pidWithArg('etcd', `--data-dir=${path.join(k.logDir, 'etcd')}`)),
        ...Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, rssKb(daemonPid(p.pid))])),
      }),
      leftovers,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
