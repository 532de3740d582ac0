// The few API server calls the benchmark makes (create namespaces, service accounts and pods, patch
// a pod's status, request pod-bound tokens), over one keep-alive HTTPS agent with the admin token: light enough that creating 10,000
// namespaces does not make the load generator's core the limit. The time a status patch is
// acknowledged is the start of the first-credential measurement, so `patchPodRunning` returns it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Kube } from '../../test/peers/kube.ts';

export const ROLE_ANNOTATION = 'iam.amazonaws.com/role';

/** Node-pod i's address: 127.0.3.1 … (pods of the first-credential figure use 127.0.2.x; the load pod 127.0.0.1). */
export function nodePodIp(i: number): string {
  return `127.0.${3 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/**
 * The kube peer's kubeconfig as JSON, in `dir` (written once): the proxy then reads it without
 * loading its YAML parser, as in a pod (in-cluster), so the memory measured is a pod's.
 */
export function jsonKubeconfig(kube: Kube, dir: string): string {
  const file = path.join(dir, 'kubeconfig.json');
  if (!existsSync(file)) writeFileSync(file, JSON.stringify(parseAllDocuments(readFileSync(kube.kubeconfigPath, 'utf8'))[0]!.toJS()), { mode: 0o600 });
  return file;
}

export class KubeApi {
  private readonly agent: Agent;

  constructor(private readonly kube: Kube) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 64, ca: kube.caPem });
  }

  call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: string; at: number }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.kube.server}${path}`,
        {
          method,
          agent: this.agent,
          timeout: 30_000,
          headers: { authorization: `Bearer ${this.kube.token}`, accept: 'application/json', ...(payload ? { 'content-type': contentType } : {}) },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, at: performance.now() }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async expect(method: string, path: string, body: unknown, ok: number[], contentType?: string): Promise<number> {
    const r = await this.call(method, path, body, contentType);
    if (!ok.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${r.body.slice(0, 300)}`);
    return r.at;
  }

  async createNamespace(name: string): Promise<void> {
    await this.expect('POST', '/api/v1/namespaces', { metadata: { name } }, [201, 409]);
  }

  async createServiceAccount(namespace: string, name: string): Promise<void> {
    await this.expect('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name, namespace } }, [201, 409]);
  }

  /**
   * A pod bound to `nodeName` (no scheduler runs), Pending until patchPodRunning; its UID. With a
   * service account (created before), the TokenRequest API can bind tokens to it.
   */
  async createPod(namespace: string, name: string, nodeName: string, role: string, serviceAccountName?: string): Promise<string> {
    const r = await this.call('POST', `/api/v1/namespaces/${namespace}/pods`, {
      metadata: { name, namespace, labels: { app: name.replace(/-\d+$/, ''), tier: 'backend' }, annotations: { [ROLE_ANNOTATION]: role } },
      spec: { nodeName, ...(serviceAccountName ? { serviceAccountName } : {}), containers: [{ name: 'app', image: 'registry.example/app:1.2.3', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
    });
    if (r.status !== 201) throw new Error(`POST pod ${namespace}/${name} answered ${r.status}: ${r.body.slice(0, 300)}`);
    return (JSON.parse(r.body) as { metadata: { uid: string } }).metadata.uid;
  }

  /**
   * A service-account token from the TokenRequest API, bound to the pod (as the kubelet's
   * projected token is): the API server signs it with its service-account key.
   */
  async requestToken(namespace: string, serviceAccount: string, pod: { name: string; uid: string }, audience: string, expirationSeconds: number): Promise<string> {
    const r = await this.call('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: [audience], expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } },
    });
    if (r.status !== 201) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} answered ${r.status}: ${r.body.slice(0, 300)}`);
    return (JSON.parse(r.body) as { status: { token: string } }).status.token;
  }

  /**
   * What the kubelet reports when the pod's sandbox is up: phase Running and its IP. Returns the
   * moment the API server's acknowledgement was received (performance.now()).
   */
  patchPodRunning(namespace: string, name: string, ip: string): Promise<number> {
    const now = new Date().toISOString();
    return this.expect('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`, {
      status: {
        phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '127.0.0.1', startTime: now,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
      },
    }, [200], 'application/merge-patch+json');
  }

  /** At once: no kubelet runs to confirm a graceful deletion. */
  async deletePod(namespace: string, name: string): Promise<void> {
    await this.expect('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`, undefined, [200, 404]);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `task` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function inParallel<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i]!, i);
      }
    }),
  );
}
