// The node's identities, all signed by the cluster CA of startKube, written as kubeconfigs:
// kubelet (system:node:<name>, group system:nodes: the Node authorizer and NodeRestriction),
// kube-controller-manager and kube-scheduler (their default RBAC roles), and the kubelet's
// serving certificate. The API server's own kubelet-client certificate is made before the
// API server starts (its flags name the files), see clientCertFiles.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { IssuedCert, Kube } from '../kube.ts';

export function kubeconfig(server: string, cert: IssuedCert): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority-data': b64(cert.caPem) } }],
    users: [{ name: 'u', user: { 'client-certificate-data': b64(cert.certPem), 'client-key-data': b64(cert.keyPem) } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  }, null, 2);
}

export interface NodePki {
  kubeletKubeconfig: string;
  kcmKubeconfig: string;
  schedulerKubeconfig: string;
  kubeletServingCert: string;
  kubeletServingKey: string;
  caFile: string;
}

/** Issues and writes the node's identities under `dir`; the kubelet's kubeconfig points at `apiInside`. */
export async function writeNodePki(kube: Kube, dir: string, nodeName: string, nodeIp: string, apiInside: string): Promise<NodePki> {
  const [kubelet, kcm, sched, serving] = await Promise.all([
    kube.issueClientCert({ cn: `system:node:${nodeName}`, o: 'system:nodes' }),
    kube.issueClientCert({ cn: 'system:kube-controller-manager' }),
    kube.issueClientCert({ cn: 'system:kube-scheduler' }),
    kube.issueServingCertFor(nodeName, { ips: [nodeIp], dns: [nodeName] }),
  ]);
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  return {
    kubeletKubeconfig: file('kubelet.kubeconfig', kubeconfig(apiInside, kubelet)),
    kcmKubeconfig: file('kcm.kubeconfig', kubeconfig(kube.server, kcm)),
    schedulerKubeconfig: file('scheduler.kubeconfig', kubeconfig(kube.server, sched)),
    kubeletServingCert: file('kubelet-serving.crt', serving.certPem),
    kubeletServingKey: file('kubelet-serving.key', serving.keyPem),
    caFile: file('ca.crt', kube.caPem),
  };
}
