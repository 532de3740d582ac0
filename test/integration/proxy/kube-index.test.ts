// The proxy against a real kube-apiserver (+ etcd): pods of this node only, by a status-patched IP
// (no kubelet runs), namespaces' annotations, Events for denials, IP reuse, and a relist after a
// 410 Gone. moto is STS and the metadata mock the node's IMDS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { KubeClient } from '../../../proxy/src/k8s/api-client.ts';
import { freePort, startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { EVENT_REASON } from '../../../proxy/src/k8s/events.ts';
import type { NamespaceChange } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, TEST_ROLE_ARNS, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';

/** Polls fn until it returns a truthy value; bounded by count and time. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < end; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A TCP relay to the API server that a test can cut (every connection dropped) and restore on the same port. */
async function cuttableRelay(kubePort: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let relay: Server | undefined;
  const serve = (port: number): Promise<number> =>
    new Promise((resolve) => {
      relay = createServer((c) => {
        const up = createConnection({ host: '127.0.0.1', port: kubePort });
        sockets.add(c).add(up);
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      }).listen(port, '127.0.0.1', () => resolve((relay!.address() as AddressInfo).port));
    });
  const port = await serve(0);
  return {
    port,
    cut: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        if (!relay?.listening) return resolve();
        relay.close(() => resolve());
      }),
    restore: async () => {
      await serve(port);
    },
  };
}

describe('pods and namespaces from the Kubernetes API server', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  let api: CoreV1Api;

  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  async function runPod(name: string, namespace: string, ip: string, annotations: Record<string, string>, nodeName = 'node-a'): Promise<V1Pod> {
    const pod = await api.createNamespacedPod({
      namespace,
      body: { metadata: { name, namespace, annotations }, spec: { nodeName, containers: [{ name: 'c', image: 'example.invalid/none:1' }] } },
    });
    // A JSON patch (client-node's default patch type) standing in for the kubelet's status update.
    await api.patchNamespacedPodStatus({ name, namespace, body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }] });
    return pod;
  }

  before(async () => {
    // No watch cache and short watches: a watch that reconnects after a compaction gets 410 Gone.
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: { watchCache: false, extraArgs: ['--min-request-timeout=3'] } });
    await peers.moto!.createRoles([...TEST_ROLE_ARNS, 'arn:aws:iam::123456789012:role/legacy-app']);
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
    await api.createNamespace({ body: { metadata: { name: 'legacy', annotations: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' } } } });
    for (const ns of ['orders', 'legacy']) {
      await api.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } }).catch(() => undefined);
    }
    proxy = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: 'node-a' }),
      { kube: await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath) },
    );
    await proxy.ready;
  });

  it('serves a pod of this node once its IP is patched in', async () => {
    await runPod('reader-1', 'orders', '127.0.0.1', { 'iam.amazonaws.com/role': 'reader' });
    const r = await eventually('the pod to be indexed', async () => {
      const a = await call(proxy.port, CREDS);
      return a.status === 200 && a;
    });
    assert.equal(r.body, 'test.orders.reader');
  });

  it('ignores pods of other nodes', async () => {
    await runPod('elsewhere', 'orders', '127.0.0.2', { 'iam.amazonaws.com/role': 'reader' }, 'node-b');
    await runPod('marker', 'orders', '127.0.0.6', {});
    await eventually('the marker pod', async () => (await call(proxy.port, CREDS, { from: '127.0.0.6' })).status === 404 && proxy.pods.lookupNow('127.0.0.6').kind === 'pod');
    const r = await call(proxy.port, CREDS, { from: '127.0.0.2' });
    assert.equal(r.status, 404);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_POD_UNKNOWN');
  });

  it('honours the namespace\'s allowed-roles annotation', async () => {
    await runPod('old-app', 'legacy', '127.0.0.7', { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/legacy-app' });
    const r = await eventually('the legacy pod', async () => {
      const a = await call(proxy.port, CREDS, { from: '127.0.0.7' });
      return a.status === 200 && a;
    });
    assert.equal(r.body, 'legacy-app');
  });

  it('stops serving a role as soon as the namespace withdraws its permission', async () => {
    await eventually('the legacy pod served', async () => (await call(proxy.port, CREDS, { from: '127.0.0.7' })).status === 200);
    const sizeBefore = proxy.cache.size;
    await api.patchNamespace({ name: 'legacy', body: [{ op: 'remove', path: '/metadata/annotations/iam.amazonaws.com~1allowed-roles' }] });
    const r = await eventually('the withdrawal', async () => {
      const a = await call(proxy.port, '/latest/meta-data/iam/security-credentials/legacy-app', { from: '127.0.0.7' });
      return a.status === 403 && a;
    });
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_ROLE_NOT_PERMITTED');
    // Its credentials are dropped from the cache, not just withheld.
    await eventually('the eviction', async () => sizeBefore - proxy.cache.size === 1);
  });

  it('denies a role the namespace does not permit and records an Event on the pod', async () => {
    await runPod('sneaky', 'orders', '127.0.0.3', { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/admin' });
    const r = await eventually('the denial', async () => {
      const a = await call(proxy.port, CREDS, { from: '127.0.0.3' });
      return a.status === 403 && a;
    });
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_ROLE_NOT_PERMITTED');
    const event = await eventually('the Event', async () => {
      const list = await api.listNamespacedEvent({ namespace: 'orders', fieldSelector: 'involvedObject.name=sneaky' });
      return list.items.find((e) => e.reason === EVENT_REASON);
    });
    assert.equal(event.type, 'Warning');
    assert.match(event.message ?? '', /PODIAM_ROLE_NOT_PERMITTED/);
  });

  it('gives a reused IP only the new pod\'s role', async () => {
    await runPod('first', 'orders', '127.0.0.4', { 'iam.amazonaws.com/role': 'reader' });
    const before = await eventually('the first pod', async () => {
      const a = await call(proxy.port, `${CREDS}test.orders.reader`, { from: '127.0.0.4' });
      return a.status === 200 && (JSON.parse(a.body) as { AccessKeyId: string });
    });
    await api.deleteNamespacedPod({ name: 'first', namespace: 'orders', gracePeriodSeconds: 0 });
    await runPod('second', 'orders', '127.0.0.4', { 'iam.amazonaws.com/role': 'writer' });
    const name = await eventually('the second pod', async () => {
      const a = await call(proxy.port, CREDS, { from: '127.0.0.4' });
      return a.status === 200 && a.body === 'test.orders.writer' && a.body;
    });
    assert.equal(name, 'test.orders.writer');
    const old = await call(proxy.port, `${CREDS}test.orders.reader`, { from: '127.0.0.4' });
    assert.equal(old.status, 403);
    const fresh = JSON.parse((await call(proxy.port, `${CREDS}test.orders.writer`, { from: '127.0.0.4' })).body) as { AccessKeyId: string };
    assert.notEqual(fresh.AccessKeyId, before.AccessKeyId);
  });

  it('with the stale window off (0), answers nothing while its watch is cut, and only the new pod after it relists', async () => {
    // A TCP relay between a second proxy and the API server, which the test can cut.
    const kubePort = peers.kube!.port;
    const sockets = new Set<Socket>();
    let relay: Server = createServer();
    const serve = (port: number): Promise<number> =>
      new Promise((resolve) => {
        relay = createServer((c) => {
          const up = createConnection({ host: '127.0.0.1', port: kubePort });
          sockets.add(c).add(up);
          c.pipe(up).pipe(c);
          c.on('error', () => up.destroy());
          up.on('error', () => c.destroy());
        }).listen(port, '127.0.0.1', () => resolve((relay.address() as AddressInfo).port));
      });
    const cut = (): Promise<void> =>
      new Promise((resolve) => {
        relay.close(() => resolve());
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    const relayPort = await serve(0);
    const kube = await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath, { server: `https://127.0.0.1:${relayPort}` });
    const second = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: 'node-r', PODIAM_EVENTS: 'false', PODIAM_STALE_INDEX_WINDOW_MS: '0' }),
      { kube },
    );
    try {
      await second.ready;
      await runPod('r-first', 'orders', '127.0.0.20', { 'iam.amazonaws.com/role': 'reader' }, 'node-r');
      await eventually('the first pod', async () => (await call(second.port, CREDS, { from: '127.0.0.20' })).body === 'test.orders.reader');

      await cut();
      await eventually('the proxy to notice the cut', async () => !second.pods.synced || !second.namespaces.synced);
      await api.deleteNamespacedPod({ name: 'r-first', namespace: 'orders', gracePeriodSeconds: 0 });
      await runPod('r-second', 'orders', '127.0.0.20', { 'iam.amazonaws.com/role': 'writer' }, 'node-r');
      const during = await call(second.port, CREDS, { from: '127.0.0.20' });
      assert.equal(during.status, 503);
      assert.equal((JSON.parse(during.body) as { code: string }).code, 'PODIAM_POD_INDEX_NOT_SYNCED');

      await serve(relayPort);
      const afterRelist = await eventually('the relist', async () => {
        const a = await call(second.port, CREDS, { from: '127.0.0.20' });
        return a.status === 200 && a.body;
      }, 30_000);
      assert.equal(afterRelist, 'test.orders.writer');
    } finally {
      await second.stop();
      await cut();
    }
  });

  /** A second proxy for node `nodeName` whose API-server connection goes through a relay the test can cut. */
  async function proxyBehindRelay(nodeName: string, env: Record<string, string> = {}) {
    const relay = await cuttableRelay(peers.kube!.port);
    const kube = await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath, { server: `https://127.0.0.1:${relay.port}` });
    const p = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: nodeName, PODIAM_EVENTS: 'false', ...env }),
      { kube },
    );
    return { relay, proxy: p };
  }

  /**
   * Makes both watches of p hear from the API server now (a namespace and a pod of its node are
   * created and seen), so the stale window starts at the cut, not at some earlier event.
   */
  async function freshContact(p: RunningProxy, tag: string, nodeName: string, ip: string): Promise<void> {
    await api.createNamespace({ body: { metadata: { name: `touch-${tag}` } } });
    await runPod(`touch-${tag}`, 'orders', ip, {}, nodeName);
    await eventually('both watches to deliver', async () => p.namespaces.get(`touch-${tag}`) !== undefined && p.pods.lookupNow(ip).kind === 'pod');
  }

  const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> => (await c.get()).values.reduce((a, v) => a + v.value, 0);

  it('keeps serving a pod it knew while the API server is cut off, refuses unknown IPs with 503, answers nobody after the window, and serves again after the relist', async () => {
    const WINDOW_MS = 10_000;
    const { relay, proxy: p } = await proxyBehindRelay('node-s', { PODIAM_STALE_INDEX_WINDOW_MS: String(WINDOW_MS) });
    try {
      await p.ready;
      await runPod('s-known', 'orders', '127.0.0.40', { 'iam.amazonaws.com/role': 'reader' }, 'node-s');
      const cached = await eventually('the known pod served', async () => {
        const a = await call(p.port, `${CREDS}test.orders.reader`, { from: '127.0.0.40' });
        return a.status === 200 && (JSON.parse(a.body) as { AccessKeyId: string });
      });
      await freshContact(p, 'stale', 'node-s', '127.0.0.41');

      await relay.cut();
      await eventually('the proxy to notice the cut', async () => !p.pods.synced || !p.namespaces.synced);

      const during = await call(p.port, `${CREDS}test.orders.reader`, { from: '127.0.0.40' });
      assert.equal(during.status, 200, during.body);
      assert.equal((JSON.parse(during.body) as { AccessKeyId: string }).AccessKeyId, cached.AccessKeyId, 'the cached credentials');
      const unknown = await call(p.port, CREDS, { from: '127.0.0.42' });
      assert.equal(unknown.status, 503);
      assert.equal((JSON.parse(unknown.body) as { code: string }).code, 'PODIAM_POD_INDEX_NOT_SYNCED');
      assert.equal((await call(p.metricsPort!, '/readyz')).status, 200, 'ready while answering from the stale index');
      assert.ok((await counter(p.metrics.staleAnswers)) >= 1);
      assert.ok((await counter(p.metrics.indexStaleSeconds)) > 0);

      const expired = await eventually('the window to end', async () => {
        const a = await call(p.port, `${CREDS}test.orders.reader`, { from: '127.0.0.40' });
        return a.status === 503 && a;
      }, WINDOW_MS + 10_000);
      assert.equal((JSON.parse(expired.body) as { code: string }).code, 'PODIAM_POD_INDEX_NOT_SYNCED');
      assert.equal((await call(p.metricsPort!, '/readyz')).status, 503, 'unready once it answers nobody');

      await relay.restore();
      const again = await eventually('the relist', async () => {
        const a = await call(p.port, CREDS, { from: '127.0.0.40' });
        return a.status === 200 && a.body;
      }, 30_000);
      assert.equal(again, 'test.orders.reader');
      assert.equal(await counter(p.metrics.indexStaleSeconds), 0);
    } finally {
      await p.stop();
      await relay.cut();
    }
  });

  it('gives an IP reused while its watch was cut only the new pod\'s role once it relists, never the old pod\'s credentials, and reports the change of owner', async () => {
    const { relay, proxy: p } = await proxyBehindRelay('node-u', { PODIAM_STALE_INDEX_WINDOW_MS: '120000' });
    try {
      await p.ready;
      await runPod('u-first', 'orders', '127.0.0.50', { 'iam.amazonaws.com/role': 'reader' }, 'node-u');
      const old = await eventually('the first pod served', async () => {
        const a = await call(p.port, `${CREDS}test.orders.reader`, { from: '127.0.0.50' });
        return a.status === 200 && (JSON.parse(a.body) as { AccessKeyId: string });
      });

      await relay.cut();
      await eventually('the proxy to notice the cut', async () => !p.pods.synced || !p.namespaces.synced);
      // The API server is up; only the proxy's connection is cut: the kubelet could start a new pod.
      await api.deleteNamespacedPod({ name: 'u-first', namespace: 'orders', gracePeriodSeconds: 0 });
      await runPod('u-second', 'orders', '127.0.0.50', { 'iam.amazonaws.com/role': 'writer' }, 'node-u');
      // The residual risk docs/security.md names: in the window the proxy cannot know of the reuse.
      const during = await call(p.port, CREDS, { from: '127.0.0.50' });
      assert.equal(during.body, 'test.orders.reader');

      await relay.restore();
      const name = await eventually('the relist', async () => {
        const a = await call(p.port, CREDS, { from: '127.0.0.50' });
        return a.status === 200 && a.body === 'test.orders.writer' && a.body;
      }, 30_000);
      assert.equal(name, 'test.orders.writer');
      const oldRole = await call(p.port, `${CREDS}test.orders.reader`, { from: '127.0.0.50' });
      assert.equal(oldRole.status, 403);
      const fresh = JSON.parse((await call(p.port, `${CREDS}test.orders.writer`, { from: '127.0.0.50' })).body) as { AccessKeyId: string };
      assert.notEqual(fresh.AccessKeyId, old.AccessKeyId);
      await eventually('the owner change to be counted', async () => (await counter(p.metrics.staleOwnerChanged)) === 1);
    } finally {
      await p.stop();
      await relay.cut();
    }
  });

  it('reports a namespace deleted while its watch was down as deleted once it lists again, and re-decides its pods', async () => {
    await api.createNamespace({ body: { metadata: { name: 'vanishing', annotations: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' } } } });
    const relay = await cuttableRelay(peers.kube!.port);
    const kube = await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath, { server: `https://127.0.0.1:${relay.port}` });
    const third = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: 'node-v', PODIAM_EVENTS: 'false' }),
      { kube },
    );
    const changes: NamespaceChange[] = [];
    try {
      await third.ready;
      third.namespaces.onChange((c) => {
        if (c.key === 'vanishing') changes.push(c);
      });
      await runPod('v-app', 'vanishing', '127.0.0.30', { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/legacy-app' }, 'node-v');
      await eventually('the pod served its role', async () => (await call(third.port, CREDS, { from: '127.0.0.30' })).body === 'legacy-app');

      await relay.cut();
      await eventually('the proxy to notice the cut', async () => !third.namespaces.synced);
      await api.deleteNamespace({ name: 'vanishing' });
      // No namespace controller runs beside this API server: empty the finalizers as it would, so
      // the namespace is really gone. Its pod stays (nobody deletes it), which keeps the pod index
      // unchanged: only the namespace index can tell the proxy.
      await api.replaceNamespaceFinalize({ name: 'vanishing', body: { metadata: { name: 'vanishing' }, spec: { finalizers: [] } } });
      await eventually('the namespace to be gone', async () => (await api.listNamespace()).items.every((n) => n.metadata?.name !== 'vanishing'));
      assert.equal(changes.length, 0, 'no watch event could have carried the deletion');

      await relay.restore();
      const deleted = await eventually('the deletion to be reported', async () => changes.find((c) => c.type === 'deleted'), 30_000);
      assert.deepEqual(deleted, { type: 'deleted', key: 'vanishing', previous: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' } });
      assert.equal(third.namespaces.get('vanishing'), undefined);
      await third.ready;
      const denied = await eventually('the pod re-decided', async () => {
        const a = await call(third.port, `${CREDS}legacy-app`, { from: '127.0.0.30' });
        return a.status === 403 && a;
      });
      assert.equal((JSON.parse(denied.body) as { code: string }).code, 'PODIAM_ROLE_NOT_PERMITTED');
    } finally {
      await third.stop();
      await relay.cut();
    }
  });

  it('keeps trying an API server that is not reachable at start, and becomes ready when it is', async () => {
    const kubePort = peers.kube!.port;
    const port = await freePort();
    const kube = await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath, { server: `https://127.0.0.1:${port}` });
    const late = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: 'node-late', PODIAM_EVENTS: 'false' }),
      { kube },
    );
    const open = new Set<Socket>();
    const relay = createServer((c) => {
      const up = createConnection({ host: '127.0.0.1', port: kubePort });
      open.add(c).add(up);
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    try {
      let ready = false;
      void late.ready.then(() => (ready = true));
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(ready, false);
      assert.equal((await call(late.metricsPort!, '/readyz')).status, 503);
      await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', () => resolve()));
      await eventually('readiness', async () => ready && (await call(late.metricsPort!, '/readyz')).status === 200, 30_000);
    } finally {
      await late.stop();
      // Keep-alive connections of the client would hold close() open: end them.
      for (const sock of open) sock.destroy();
      await new Promise((r) => relay.close(r));
    }
  });

  it('lists again after a 410 Gone and keeps answering correctly', async () => {
    const relists = async (): Promise<number> => (await proxy.metrics.relists.get()).values.filter((v) => v.labels.resource === 'pods').reduce((a, v) => a + v.value, 0);
    const start = await relists();
    // Move etcd's revision past the pod watch's resourceVersion, then compact it away.
    for (let i = 0; i < 3; i++) await api.createNamespacedConfigMap({ namespace: 'orders', body: { metadata: { name: `bump-${i}` } } });
    await peers.kube!.compactEtcd();
    // The API server ends watches after 3-6 s; the reconnect from the compacted version gets 410.
    await eventually('a relist', async () => (await relists()) > start, 30_000);
    await runPod('after-gone', 'orders', '127.0.0.8', { 'iam.amazonaws.com/role': 'reader' });
    const r = await eventually('the pod created after the relist', async () => {
      const a = await call(proxy.port, CREDS, { from: '127.0.0.8' });
      return a.status === 200 && a;
    });
    assert.equal(r.body, 'test.orders.reader');
    assert.equal((await call(proxy.port, CREDS)).body, 'test.orders.reader');
  });
});
