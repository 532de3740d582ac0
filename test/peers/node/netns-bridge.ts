// The node's network namespace and the only ways in and out of it. Nothing here touches the
// root namespace's interfaces, routes or iptables: the root namespace's 192.0.2.0/24 is this
// machine's live network, so there is no veth either. Traffic crosses with ns-bridge
// (scripts/peers/node-helpers/ns-bridge), which binds listeners inside the namespace with
// setns and dials the root namespace's loopback (and serves HTTP CONNECT for the API server's
// egress selector, to reach the kubelet and pods inside).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { startProcess, type PeerProcess } from '../process.ts';

const run = promisify(execFile);

/** Pods get addresses from here (CNI bridge + host-local); it exists only inside the node namespace. */
export const podSubnet = '203.0.113.0/24';
export const podGateway = '203.0.113.1';
export const podRange = { start: '203.0.113.10', end: '203.0.113.200' } as const;
/** The node's InternalIP: on the namespace's lo as a /32 (kubelet wants a non-loopback address). */
export const nodeIp = '203.0.113.250';
/** Where kube-apiserver answers inside the namespace, on every address (lo, nodeIp, podGateway). */
export const apiPortInside = 6443;
/** The `kubernetes` Service's ClusterIP (first address of kube.ts's serviceClusterIpRange). */
export const kubernetesServiceIp = '198.51.100.1';

export interface Expose {
  /** IP:PORT inside the node namespace; an IP the namespace lacks is added to its lo as a /32. */
  listen: string;
  /** HOST:PORT in the root namespace, normally 127.0.0.1:<a peer's port>. */
  target: string;
}

/** Runs a command in the namespace with nsenter --net (ip netns exec would remount /sys and hide the cgroup mounts). */
export async function execInNetns(netns: string, command: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return run('nsenter', [`--net=/run/netns/${netns}`, command, ...args], { timeout: timeoutMs, encoding: 'utf8' });
}

export async function createNetns(netns: string, expose: Expose[]): Promise<void> {
  await run('ip', ['netns', 'add', netns], { timeout: 10_000 });
  const inNs = (...args: string[]): Promise<unknown> => execInNetns(netns, args[0]!, args.slice(1), 10_000);
  await inNs('ip', 'link', 'set', 'lo', 'up');
  await inNs('ip', 'addr', 'add', `${nodeIp}/32`, 'dev', 'lo');
  const extra = new Set(expose.map((e) => e.listen.slice(0, e.listen.lastIndexOf(':'))).filter((ip) => ip !== '0.0.0.0' && ip !== nodeIp && !ip.startsWith('127.')));
  for (const ip of extra) await inNs('ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo');
  // No kube-proxy: the one Service in-cluster clients need is `kubernetes`, so one DNAT rule
  // for pods (PREROUTING, arriving on the CNI bridge) and one for hostNetwork pods (OUTPUT).
  // OUTPUT runs after the route lookup, which needs a route: the service range is made local
  // to the namespace (no dummy device module here), and the DNAT then sends it to ns-bridge.
  await inNs('ip', 'route', 'add', 'local', '198.51.100.0/24', 'dev', 'lo');
  for (const chain of ['PREROUTING', 'OUTPUT']) {
    await inNs('iptables', '-w', '5', '-t', 'nat', '-A', chain, '-d', `${kubernetesServiceIp}/32`, '-p', 'tcp', '--dport', '443',
      '-m', 'comment', '--comment', 'podiam-node: kubernetes Service (no kube-proxy)', '-j', 'DNAT', '--to-destination', `${nodeIp}:${apiPortInside}`);
  }
}

export async function deleteNetns(netns: string): Promise<void> {
  await run('ip', ['netns', 'del', netns], { timeout: 10_000 }).catch(() => undefined);
}

export async function netnsExists(netns: string): Promise<boolean> {
  const { stdout } = await run('ip', ['netns', 'list'], { timeout: 10_000 });
  return stdout.split('\n').some((l) => l.split(' ')[0] === netns);
}

/** Starts ns-bridge: apiserver (and `expose`) into the namespace, CONNECT for the egress selector. */
export function startNsBridge(bin: string, netns: string, apiserverPort: number, egressSocket: string, expose: Expose[]): Promise<PeerProcess> {
  const forwards = [`0.0.0.0:${apiPortInside}=127.0.0.1:${apiserverPort}`, ...expose.map((e) => `${e.listen}=${e.target}`)];
  return startProcess({
    name: 'ns-bridge',
    command: bin,
    args: [`-netns=/run/netns/${netns}`, ...forwards.flatMap((f) => ['-forward', f]), '-connect', egressSocket, '-inside', podSubnet, '-inside', `${nodeIp}/32`],
    // The socket is made after every forward is bound (a failed bind exits first).
    ready: async () => existsSync(egressSocket),
    readyTimeoutMs: 10_000,
  });
}
