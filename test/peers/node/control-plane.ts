// kube-controller-manager and kube-scheduler, in the root namespace on loopback (they only
// talk to the API server), each with its own identity and the default RBAC for it.
import path from 'node:path';
import { startProcess, type PeerProcess } from '../process.ts';
import type { Kube } from '../kube.ts';
import type { NodePki } from './certs.ts';

export async function startControllerManager(bin: string, kube: Kube, pki: NodePki, ready: () => Promise<boolean>): Promise<PeerProcess> {
  const k = pki.kcmKubeconfig;
  return startProcess({
    name: 'kube-controller-manager',
    command: bin,
    args: [
      `--kubeconfig=${k}`, `--authentication-kubeconfig=${k}`, `--authorization-kubeconfig=${k}`,
      '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false',
      // Each controller acts as its own ServiceAccount with its bootstrap role, as in a real
      // cluster (its own identity alone may not, e.g., patch nodes).
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${path.join(kube.pkiDir, 'sa.key')}`,
      `--root-ca-file=${path.join(kube.pkiDir, 'ca.crt')}`,
      `--cluster-signing-cert-file=${path.join(kube.pkiDir, 'ca.crt')}`, `--cluster-signing-key-file=${path.join(kube.pkiDir, 'ca.key')}`,
      // No cloud, no pod CIDR allocation (the CNI bridge's host-local range is the node's).
      '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
      '--v=1',
    ],
    ready,
    readyTimeoutMs: 60_000,
  });
}

export async function startScheduler(bin: string, pki: NodePki): Promise<PeerProcess> {
  const k = pki.schedulerKubeconfig;
  return startProcess({
    name: 'kube-scheduler',
    command: bin,
    args: [`--kubeconfig=${k}`, `--authentication-kubeconfig=${k}`, `--authorization-kubeconfig=${k}`, '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false', '--v=1'],
    // It has no port to probe with --secure-port=0: running is enough; pods being scheduled is the test.
    ready: async () => true,
    readyTimeoutMs: 10_000,
  });
}
