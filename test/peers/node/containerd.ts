// containerd (Debian's 1.6, CRI plugin) for the node, with its root, state and sockets in the
// node's scratch directory, started inside the node's network namespace.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProcess, type PeerProcess } from '../process.ts';
import { podGateway, podRange, podSubnet } from './netns-bridge.ts';

const run = promisify(execFile);

export const sandboxImage = 'docker.io/local/pause:1';

export interface ContainerdPaths {
  socket: string;
  root: string;
  state: string;
  cniConfDir: string;
  cniIpamDir: string;
}

export function containerdPaths(scratch: string): ContainerdPaths {
  return {
    socket: path.join(scratch, 'run', 'containerd.sock'),
    root: path.join(scratch, 'containerd', 'root'),
    state: path.join(scratch, 'containerd', 'state'),
    cniConfDir: path.join(scratch, 'cni', 'net.d'),
    cniIpamDir: path.join(scratch, 'cni', 'ipam'),
  };
}

function configToml(scratch: string, p: ContainerdPaths): string {
  return `version = 2
root = "${p.root}"
state = "${p.state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${p.socket}"
[ttrpc]
  address = "${p.socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(scratch, 'containerd', 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  disable_apparmor = true
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj to the kubelet's -998 and
  # every sandbox fails ("can't get final child's PID from pipe: EOF") unless it is clamped.
  restrict_oom_score_adj = true
  enable_selinux = false
  # Pod network namespaces under the state dir (scratch), not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConfDir}"
`;
}

/** The CNI bridge network: pods on `bridge` with addresses from podSubnet, inside the node namespace only. */
function cniConflist(network: string, bridge: string, ipamDir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: network,
    plugins: [{
      type: 'bridge', bridge, isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: podSubnet, rangeStart: podRange.start, rangeEnd: podRange.end, gateway: podGateway }]], routes: [{ dst: '0.0.0.0/0' }] },
    }],
  }, null, 2);
}

export async function startContainerd(scratch: string, netns: string, network: string, bridge: string): Promise<{ proc: PeerProcess; paths: ContainerdPaths }> {
  const p = containerdPaths(scratch);
  for (const d of [path.dirname(p.socket), p.root, p.state, p.cniConfDir, p.cniIpamDir]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(p.cniConfDir, '10-podiam.conflist'), cniConflist(network, bridge, p.cniIpamDir));
  const config = path.join(scratch, 'containerd.toml');
  writeFileSync(config, configToml(scratch, p));
  const proc = await startProcess({
    name: 'containerd',
    command: 'nsenter',
    args: [`--net=/run/netns/${netns}`, 'containerd', '--config', config],
    ready: async () => existsSync(p.socket) && (await ctr(p.socket, ['version'])).includes('Server'),
    readyTimeoutMs: 20_000,
  });
  return { proc, paths: p };
}

/** ctr against this node's containerd, namespace k8s.io (the CRI's). */
export async function ctr(socket: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return (await run('ctr', ['--address', socket, '-n', 'k8s.io', ...args], { timeout: timeoutMs, encoding: 'utf8' })).stdout;
}

/** Imports a docker-archive or OCI archive; returns the image names it brought. */
export async function importImage(socket: string, archive: string): Promise<string[]> {
  const out = await ctr(socket, ['images', 'import', archive]);
  // "unpacking docker.io/local/pause:1 (sha256:...)...done"
  return [...out.matchAll(/unpacking (\S+) \(/g)].map((m) => m[1]!);
}
