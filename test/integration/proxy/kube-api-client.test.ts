// The proxy's own Kubernetes API client (proxy/src/k8s/api-client.ts) against a real
// kube-apiserver: what the Reflector relies on (a watch that ends once, with the status code when
// the server refuses it), token-file rotation, and the typed errors. The Reflector on top of it
// runs in kube-index.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeApiError, KubeClient, type KubeTarget } from '../../../proxy/src/k8s/api-client.ts';
import { startPeers, type Peers } from '../../peers/index.ts';

interface Ended {
  calls: unknown[];
  promise: Promise<unknown>;
}

function watchEnd(): Ended & { onDone: (err: unknown) => void } {
  const calls: unknown[] = [];
  let resolve: (e: unknown) => void = () => undefined;
  const promise = new Promise<unknown>((r) => (resolve = r));
  return {
    calls,
    promise,
    onDone: (err) => {
      calls.push(err);
      resolve(err);
    },
  };
}

describe("the proxy's Kubernetes API client against a real API server", () => {
  let peers: Peers;
  let client: KubeClient;
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-kube-client-'));

  before(async () => {
    peers = await startPeers({ kube: true });
    client = await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath);
  });

  after(async () => {
    client?.close();
    await peers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists in pages with metadata.continue, in the API server shape', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await client.postJson('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
    const first = await client.list<{ metadata: { name: string } }>('/api/v1/namespaces', { limit: 2 });
    assert.equal(first.items?.length, 2);
    assert.ok(first.metadata?.continue, 'a first page of two names where to continue');
    const rest = await client.list<{ metadata: { name: string } }>('/api/v1/namespaces', { limit: 500, continue: first.metadata.continue });
    const names = [...(first.items ?? []), ...(rest.items ?? [])].map((n) => n.metadata.name);
    for (const n of ['page-a', 'page-b', 'page-c']) assert.ok(names.includes(n), n);
  });

  it('delivers watch events from the resourceVersion given, and ends once with null when aborted', async () => {
    const list = await client.list('/api/v1/namespaces', { limit: 1 });
    const seen: string[] = [];
    let resolveSeen: () => void = () => undefined;
    const added = new Promise<void>((r) => (resolveSeen = r));
    const end = watchEnd();
    const handle = await client.watch(
      '/api/v1/namespaces',
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: 'true', fieldSelector: 'metadata.name=watched-ns' },
      (type, obj) => {
        seen.push(`${type} ${(obj as { metadata?: { name?: string } }).metadata?.name}`);
        if (type === 'ADDED') resolveSeen();
      },
      end.onDone,
    );
    await client.postJson('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'watched-ns' } });
    await Promise.race([added, new Promise((_, reject) => setTimeout(() => reject(new Error('no ADDED event within 10 s')), 10_000).unref())]);
    assert.deepEqual(seen.filter((s) => !s.startsWith('BOOKMARK')), ['ADDED watched-ns']);
    handle.abort();
    handle.abort();
    assert.equal(await end.promise, null);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(end.calls, [null], 'onDone is called exactly once');
  });

  it('ends a watch the API server refuses once, with an error carrying its status code', async () => {
    const end = watchEnd();
    await client.watch('/api/v1/namespaces/default/nosuchresources', { resourceVersion: '' }, () => assert.fail('no event expected'), end.onDone);
    const err = await end.promise;
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 'KUBE_API_STATUS');
    assert.equal(err.statusCode, 404);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(end.calls.length, 1);
  });

  it('ends a watch with an error when the API server cannot be reached', async () => {
    const unreachable = new KubeClient({ ...client.target, server: 'https://127.0.0.1:1' });
    const end = watchEnd();
    await unreachable.watch('/api/v1/namespaces', {}, () => undefined, end.onDone);
    const err = await end.promise;
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 'KUBE_API_CONNECTION');
    unreachable.close();
  });

  it('gives up on a server that accepts the connection but never answers, with KUBE_API_TIMEOUT', async () => {
    const held = new Set<Socket>();
    const silent = createServer((c) => held.add(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const mute = new KubeClient({ server: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    try {
      const started = Date.now();
      await assert.rejects(mute.getJson('/api/v1/namespaces', { timeoutMs: 300 }), (err: unknown) => err instanceof KubeApiError && err.code === 'KUBE_API_TIMEOUT');
      assert.ok(Date.now() - started < 5_000);
    } finally {
      mute.close();
      for (const c of held) c.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('answers a wrong token with a typed 401, and reads a rotated token file again after a minute', async () => {
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'not-a-valid-token\n');
    let now = 0;
    const { cert: _cert, key: _key, token: _token, ...tls } = client.target;
    const target: KubeTarget = { ...tls, tokenFile };
    const rotating = new KubeClient(target, { now: () => now });
    try {
      const refused = await rotating.getJson('/api/v1/namespaces/default').then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(refused instanceof KubeApiError);
      assert.equal(refused.statusCode, 401);
      writeFileSync(tokenFile, `${peers.kube!.token}\n`);
      now = 30_000;
      await assert.rejects(rotating.getJson('/api/v1/namespaces/default'), (err: unknown) => err instanceof KubeApiError && err.statusCode === 401, 'the old token is used until a minute has passed');
      now = 60_000;
      const ns = await rotating.getJson<{ metadata: { name: string } }>('/api/v1/namespaces/default');
      assert.equal(ns.metadata.name, 'default');
    } finally {
      rotating.close();
    }
  });

  it('refuses an API server whose certificate the configured CA did not sign', async () => {
    const { ca: _ca, ...rest } = client.target;
    const untrusting = new KubeClient({ ...rest, ca: { data: Buffer.from('') } });
    try {
      await assert.rejects(untrusting.getJson('/api/v1/namespaces/default'), (err: unknown) => err instanceof KubeApiError && err.code === 'KUBE_API_CONNECTION');
    } finally {
      untrusting.close();
    }
  });
});
