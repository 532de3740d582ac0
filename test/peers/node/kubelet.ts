// The kubelet, inside the node's network namespace (nsenter --net: `ip netns exec` would
// remount /sys and hide the cgroup mounts it needs), talking CRI to the node's containerd.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startProcess, type PeerProcess } from '../process.ts';
import type { NodePki } from './certs.ts';

export interface KubeletStart {
  bin: string;
  scratch: string;
  netns: string;
  nodeName: string;
  nodeIp: string;
  cgroupRoot: string;
  containerdSocket: string;
  pki: NodePki;
}

export function kubeletConfig(s: KubeletStart): string {
  // JSON is YAML: the kubelet reads either.
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Inside the node namespace only; the API server reaches it through ns-bridge's CONNECT.
    address: '0.0.0.0',
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    tlsCertFile: s.pki.kubeletServingCert,
    tlsPrivateKeyFile: s.pki.kubeletServingKey,
    // As a real node: no anonymous access; bearer tokens (a pod's service-account token) checked
    // with a TokenReview and every request authorized with a SubjectAccessReview (nodes/proxy,
    // nodes/log, ...), so a pod that reaches :10250 cannot exec into its neighbours.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: s.pki.caFile } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${s.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupsPerQOS: true,
    cgroupRoot: `/${s.cgroupRoot}`,
    failSwapOn: false,
    // This machine has cgroup v1 (with a v2 `unified` mount); 1.34 still runs on it.
    failCgroupV1: false,
    podLogsDir: path.join(s.scratch, 'podlogs'),
    resolvConf: '/etc/resolv.conf',
    // Never evict or garbage-collect the imported images: there is no registry to pull them again.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    // Pods are force-deleted by stop(); no need to wait for kubelet's own status sync.
    nodeStatusUpdateFrequency: '2s',
    syncFrequency: '5s',
  }, null, 2);
}

export async function startKubelet(s: KubeletStart, ready: () => Promise<boolean>): Promise<PeerProcess> {
  const root = path.join(s.scratch, 'kubelet');
  mkdirSync(root, { recursive: true });
  mkdirSync(path.join(s.scratch, 'podlogs'), { recursive: true });
  const config = path.join(s.scratch, 'kubelet.json');
  writeFileSync(config, kubeletConfig(s));
  return startProcess({
    name: 'kubelet',
    command: 'nsenter',
    args: [`--net=/run/netns/${s.netns}`, s.bin, `--config=${config}`, `--kubeconfig=${s.pki.kubeletKubeconfig}`,
      `--root-dir=${root}`, `--hostname-override=${s.nodeName}`, `--node-ip=${s.nodeIp}`, '--v=1'],
    ready,
    readyTimeoutMs: 60_000,
  });
}
