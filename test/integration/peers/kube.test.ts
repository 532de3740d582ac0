// Smoke test of the Kubernetes peer: a real kube-apiserver (built from k8s.io/kubernetes)
// with a real etcd, driven through @kubernetes/client-node, kubectl and a real webhook.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, VersionApi, Watch, type V1Pod } from '@kubernetes/client-node';
import { cacheBinDir, kubeVersion, startKube, type Kube } from '../../peers/kube.ts';

const execFileAsync = promisify(execFile);

/** Rejects after `ms`: a bound on waiting for an event, not a timing assertion. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function pod(name: string, namespace: string, nodeName: string): V1Pod {
  // The image is never pulled: no kubelet runs.
  return { metadata: { name, namespace }, spec: { nodeName, containers: [{ name: 'app', image: 'registry.invalid/podiam/app:1' }] } };
}

describe('kube peer: a real kube-apiserver and etcd on loopback', () => {
  let kube: Kube;
  let core: CoreV1Api;

  before(async () => {
    kube = await startKube();
    core = kube.kubeConfig().makeApiClient(CoreV1Api);
  });
  after(async () => {
    await kube?.stop();
  });

  it('serves HTTPS on loopback and reports the pinned Kubernetes version', async () => {
    assert.match(kube.server, /^https:\/\/127\.0\.0\.1:\d+$/);

    const version = await kube.kubeConfig().makeApiClient(VersionApi).getCode();

    assert.equal(version.gitVersion, kubeVersion);
  });

  it('delivers a pod status patch with a pod IP to a watch selected by spec.nodeName, and only that node\'s pods', async () => {
    await core.createNamespace({ body: { metadata: { name: 'smoke' } } });
    const seen: Array<{ phase: string; name: string; podIP?: string }> = [];
    let resolvePatched: (p: V1Pod) => void = () => {};
    const patched = new Promise<V1Pod>((r) => (resolvePatched = r));
    const watch = await new Watch(kube.kubeConfig()).watch(
      '/api/v1/pods',
      { fieldSelector: 'spec.nodeName=node-a' },
      (phase, obj: V1Pod) => {
        seen.push({ phase, name: obj.metadata?.name ?? '', podIP: obj.status?.podIP });
        if (phase === 'MODIFIED' && obj.status?.podIP === '192.0.2.10') resolvePatched(obj);
      },
      () => {},
    );
    try {
      await core.createNamespacedPod({ namespace: 'smoke', body: pod('on-a', 'smoke', 'node-a') });
      await core.createNamespacedPod({ namespace: 'smoke', body: pod('on-b', 'smoke', 'node-b') });
      await core.patchNamespacedPodStatus({
        name: 'on-a',
        namespace: 'smoke',
        body: [
          { op: 'add', path: '/status/phase', value: 'Running' },
          { op: 'add', path: '/status/podIP', value: '192.0.2.10' },
          { op: 'add', path: '/status/podIPs', value: [{ ip: '192.0.2.10' }] },
        ],
      });

      const got = await within(15_000, 'MODIFIED event with podIP 192.0.2.10', patched);

      assert.equal(got.metadata?.name, 'on-a');
      assert.equal(got.status?.phase, 'Running');
      assert.deepEqual(seen.map((e) => e.name).filter((n) => n === 'on-b'), [], 'the node-b pod must not reach a node-a watch');
      assert.deepEqual(seen[0], { phase: 'ADDED', name: 'on-a', podIP: undefined });
      const stored = await core.readNamespacedPod({ name: 'on-a', namespace: 'smoke' });
      assert.equal(stored.status?.podIP, '192.0.2.10');
    } finally {
      watch.abort();
    }
  });

  it('answers kubectl get pods -A through the kubeconfig it wrote', async (t) => {
    const kubectl = path.join(cacheBinDir(), 'kubectl');
    if (!existsSync(kubectl)) {
      t.skip(`PODIAM_SKIP: needs kubectl, not installed at ${kubectl} (scripts/peers/install.sh unpacks it); only this check is skipped`);
      return;
    }
    await core.createNamespace({ body: { metadata: { name: 'kubectl-smoke' } } });
    await core.createNamespacedPod({ namespace: 'kubectl-smoke', body: pod('listed', 'kubectl-smoke', 'node-k') });

    const { stdout } = await execFileAsync(kubectl, ['get', 'pods', '-A', '-o', 'json'], { env: { ...process.env, ...kube.env }, timeout: 30_000 });

    const items = (JSON.parse(stdout) as { items: V1Pod[] }).items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
    assert.ok(items.includes('kubectl-smoke/listed'), `kubectl listed ${items.join(', ')}`);
  });

  it('refuses a pod when a ValidatingWebhookConfiguration points at a local HTTPS webhook that denies it', async () => {
    const cert = await kube.issueServingCert({ ips: ['127.0.0.1'] });
    const reviewed: string[] = [];
    const webhook: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; name?: string; object?: V1Pod } };
        reviewed.push(review.request.object?.metadata?.name ?? review.request.name ?? '');
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request.uid, allowed: false, status: { code: 403, message: 'denied by the podiam smoke webhook' } },
        }));
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    try {
      const port = (webhook.address() as { port: number }).port;
      await core.createNamespace({ body: { metadata: { name: 'guarded', labels: { 'podiam.test/guarded': 'true' } } } });
      await kube.kubeConfig().makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
        body: {
          metadata: { name: 'podiam-smoke' },
          webhooks: [{
            name: 'deny.smoke.podiam.test',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 5,
            namespaceSelector: { matchLabels: { 'podiam.test/guarded': 'true' } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: Buffer.from(cert.caPem).toString('base64') },
          }],
        },
      });

      // The API server picks up a new webhook configuration through an informer, so a
      // create right after it may still pass: retry (bounded) until the webhook answers.
      let refusal: ApiException<unknown> | undefined;
      for (let attempt = 0; attempt < 50 && !refusal; attempt++) {
        try {
          await core.createNamespacedPod({ namespace: 'guarded', body: pod(`try-${attempt}`, 'guarded', 'node-w') });
          await new Promise((r) => setTimeout(r, 200));
        } catch (err) {
          if (!(err instanceof ApiException)) throw err;
          refusal = err;
        }
      }

      assert.ok(refusal, 'the webhook never refused a pod');
      assert.equal(refusal.code, 403);
      assert.match(String(refusal.body), /denied by the podiam smoke webhook/);
      assert.ok(reviewed.length >= 1 && reviewed.every((n) => n.startsWith('try-')), `webhook reviewed ${reviewed.join(', ')}`);
      await assert.rejects(core.readNamespacedPod({ name: reviewed.at(-1) ?? '', namespace: 'guarded' }), (err: unknown) => err instanceof ApiException && err.code === 404);
      // Outside the selected namespace the webhook is not consulted.
      const before = reviewed.length;
      await core.createNamespacedPod({ namespace: 'smoke', body: pod('unguarded', 'smoke', 'node-w') });
      assert.equal(reviewed.length, before);
    } finally {
      await new Promise((r) => webhook.close(r));
    }
  });
});

describe('kube peer with the watch cache off', () => {
  let kube: Kube;

  before(async () => {
    kube = await startKube({ watchCache: false });
  });
  after(async () => {
    await kube?.stop();
  });

  it('answers a watch from a resourceVersion that etcd has compacted away with 410 Gone', async () => {
    const core = kube.kubeConfig().makeApiClient(CoreV1Api);
    const ns = await core.createNamespace({ body: { metadata: { name: 'old' } } });
    const oldRv = ns.metadata?.resourceVersion ?? '';
    await core.createNamespace({ body: { metadata: { name: 'newer' } } });
    const compactedAt = await kube.compactEtcd();
    assert.ok(compactedAt > Number(oldRv), `compacted at ${compactedAt}, old resourceVersion ${oldRv}`);

    const outcome = await within(15_000, 'watch outcome', new Promise<{ phase: string; code?: number }>((resolve) => {
      void new Watch(kube.kubeConfig()).watch(
        '/api/v1/namespaces',
        { resourceVersion: oldRv },
        (phase, obj: { code?: number }) => resolve({ phase, code: obj.code }),
        (err: unknown) => resolve({ phase: 'DONE', code: (err as { statusCode?: number; code?: number } | null)?.statusCode ?? (err as { code?: number } | null)?.code }),
      ).then((ac) => setTimeout(() => ac.abort(), 15_000).unref(), () => {});
    }));

    assert.deepEqual(outcome, { phase: 'ERROR', code: 410 });
  });
});
