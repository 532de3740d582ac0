// Where the proxy finds the API server: a kubeconfig's current context (data or files, relative
// to the kubeconfig) and the in-cluster service account. proxy/src/k8s/kube-target.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inClusterTarget, kubeconfigFileTarget, kubeconfigTarget } from '../../../proxy/src/k8s/kube-target.ts';

function kubeconfig(overrides: { users?: unknown[]; clusters?: unknown[]; current?: string } = {}): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': overrides.current ?? 'b',
    clusters: overrides.clusters ?? [
      { name: 'one', cluster: { server: 'https://one.example:6443', 'certificate-authority-data': Buffer.from('CA-ONE').toString('base64') } },
      { name: 'two', cluster: { server: 'https://two.example:6443/prefix/', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' } },
    ],
    users: overrides.users ?? [
      { name: 'alice', user: { token: 'alice-token' } },
      { name: 'bob', user: { 'client-certificate': '/abs/bob.crt', 'client-key-data': Buffer.from('BOB-KEY').toString('base64') } },
    ],
    contexts: [
      { name: 'a', context: { cluster: 'one', user: 'alice' } },
      { name: 'b', context: { cluster: 'two', user: 'bob' } },
    ],
  };
}

describe('a kubeconfig as a target', () => {
  it("uses the current context's cluster and user", () => {
    const t = kubeconfigTarget(kubeconfig(), '/home/k', 'test');
    assert.equal(t.server, 'https://two.example:6443/prefix/');
    assert.deepEqual(t.ca, { file: '/home/k/pki/ca.crt' });
    assert.equal(t.tlsServerName, 'kubernetes');
    assert.deepEqual(t.cert, { file: '/abs/bob.crt' });
    assert.deepEqual(t.key, { data: Buffer.from('BOB-KEY') });
    assert.equal(t.token, undefined);
  });

  it('uses a named context instead of the current one when asked', () => {
    const t = kubeconfigTarget(kubeconfig(), '/home/k', 'test', 'a');
    assert.equal(t.server, 'https://one.example:6443');
    assert.deepEqual(t.ca, { data: Buffer.from('CA-ONE') });
    assert.equal(t.token, 'alice-token');
  });

  it('prefers inline data to a file when a kubeconfig gives both', () => {
    const t = kubeconfigTarget(
      kubeconfig({ current: 'a', clusters: [{ name: 'one', cluster: { server: 'https://x', 'certificate-authority': 'ca.crt', 'certificate-authority-data': Buffer.from('INLINE').toString('base64') } }] }),
      '/k',
      'test',
    );
    assert.deepEqual(t.ca, { data: Buffer.from('INLINE') });
  });

  it('resolves a tokenFile relative to the kubeconfig, to be read again as it rotates', () => {
    const t = kubeconfigTarget(kubeconfig({ current: 'a', users: [{ name: 'alice', user: { tokenFile: 'tok' } }] }), '/k', 'test');
    assert.equal(t.tokenFile, '/k/tok');
  });

  it('refuses exec and auth-provider users by name rather than calling the API server as nobody', () => {
    for (const user of [{ exec: { command: 'aws' } }, { 'auth-provider': { name: 'oidc' } }]) {
      assert.throws(
        () => kubeconfigTarget(kubeconfig({ current: 'a', users: [{ name: 'alice', user }] }), '/k', 'test'),
        (err: unknown) => (err as { code?: string }).code === 'PODIAM_CONFIG_INVALID' && /which the proxy does not support/.test((err as Error).message),
      );
    }
  });

  it('names the missing piece when the current context points at nothing', () => {
    assert.throws(() => kubeconfigTarget(kubeconfig({ current: 'nope' }), '/k', 'test'), /no context named 'nope'/);
    assert.throws(() => kubeconfigTarget({ contexts: [] }, '/k', 'test'), /no current-context/);
    assert.throws(() => kubeconfigTarget('text', '/k', 'test'), /not a kubeconfig/);
  });

  it('reads a kubeconfig file as YAML or JSON, files relative to its folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-kubeconfig-'));
    try {
      const file = path.join(dir, 'config');
      writeFileSync(file, ['current-context: c', 'contexts:', '- name: c', '  context: {cluster: k, user: u}', 'clusters:', '- name: k', '  cluster:', '    server: https://127.0.0.1:6443', '    certificate-authority: ca.pem', 'users:', '- name: u', '  user: {token: t0}', ''].join('\n'));
      const t = await kubeconfigFileTarget(file);
      assert.deepEqual(t, { server: 'https://127.0.0.1:6443', ca: { file: path.join(dir, 'ca.pem') }, token: 't0' });
      await assert.rejects(kubeconfigFileTarget(path.join(dir, 'missing')), /cannot read/);
      // The same kubeconfig written as JSON gives the same target.
      const json = path.join(dir, 'config.json');
      writeFileSync(json, JSON.stringify({ 'current-context': 'c', contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }], clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'ca.pem' } }], users: [{ name: 'u', user: { token: 't0' } }] }, null, 2));
      assert.deepEqual(await kubeconfigFileTarget(json), t);
      writeFileSync(json, '{"current-context": ');
      await assert.rejects(kubeconfigFileTarget(json), /not valid YAML/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the in-cluster target', () => {
  it("is the API server's service with the mounted CA and a token file", () => {
    assert.deepEqual(inClusterTarget({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, '/sa'), { server: 'https://10.0.0.1:443', ca: { file: '/sa/ca.crt' }, tokenFile: '/sa/token' });
  });

  it('puts an IPv6 service address in brackets', () => {
    assert.equal(inClusterTarget({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, '/sa').server, 'https://[fd00::1]:443');
  });

  it('tells a process outside a pod to set PODIAM_KUBECONFIG', () => {
    assert.throws(() => inClusterTarget({}, '/sa'), /PODIAM_KUBECONFIG/);
  });
});
