// Issue 11 items 9 and 10, through the real proxy listener: namespaces and pods come from a real
// kube-apiserver (+ etcd), STS is moto, the node's IMDS the metadata mock. A namespace annotation
// is written by whoever may patch namespaces; a role annotation by whoever may create pods.
//   - `iam.amazonaws.com/permitted: (a|aa)+` against a role named 38 a's and a b held a
//     backtracking proxy's event loop for over a second per decision: it is answered (not
//     permitted) by the linear-time matcher, and the pod next to it is still served.
//   - a permitted regexp with a backreference is refused, naming it, instead of being run.
//   - a managed role's name under another path is refused even where the namespace permits '*'.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { KubeClient } from '../../../proxy/src/k8s/api-client.ts';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { call, testConfig, type HttpAnswer } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';
const ACCOUNT = '123456789012';

/** Polls fn until it returns a truthy value; bounded by count and time (not an assertion on speed). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < end; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const codeOf = (a: HttpAnswer): string => (JSON.parse(a.body) as { code: string }).code;

describe('hostile namespace annotations against the real proxy', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  let api: CoreV1Api;

  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  async function runPod(name: string, namespace: string, ip: string, role: string): Promise<void> {
    await api.createNamespacedPod({
      namespace,
      body: { metadata: { name, namespace, annotations: { 'iam.amazonaws.com/role': role } }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } },
    });
    // Standing in for the kubelet's status update (no kubelet runs).
    await api.patchNamespacedPodStatus({ name, namespace, body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }] });
  }

  /** The first answer that is not 404 (the pod not indexed yet). */
  async function answerFor(ip: string): Promise<HttpAnswer> {
    return eventually(`an answer for ${ip}`, async () => {
      const a = await call(proxy.port, CREDS, { from: ip });
      return a.status !== 404 && a;
    });
  }

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    await peers.moto!.createRoles([`arn:aws:iam::${ACCOUNT}:role/team/reader`]);
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    const namespaces: Record<string, Record<string, string>> = {
      redos: { 'iam.amazonaws.com/permitted': '(a|aa)+' },
      backref: { 'iam.amazonaws.com/permitted': '(team)/\\1' },
      kiam: { 'iam.amazonaws.com/permitted': 'arn:aws:iam::\\d{12}:role/team/[a-z]+' },
      everything: { 'iam.amazonaws.com/allowed-roles': '["*"]' },
    };
    for (const [name, annotations] of Object.entries(namespaces)) {
      await api.createNamespace({ body: { metadata: { name, annotations } } });
      await api.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } }).catch(() => undefined);
    }
    proxy = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: ACCOUNT, PODIAM_NODE_NAME: 'node-a' }),
      { kube: await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath) },
    );
    await proxy.ready;
  });

  it('answers (a|aa)+ against a role named with 38 a\'s and a b with 403 not permitted, and still serves the pod next to it', async () => {
    await runPod('attacker', 'redos', '127.0.0.21', `arn:aws:iam::${ACCOUNT}:role/${'a'.repeat(38)}b`);
    await runPod('neighbour', 'kiam', '127.0.0.22', `arn:aws:iam::${ACCOUNT}:role/team/reader`);
    const attacker = await answerFor('127.0.0.21');
    assert.equal(attacker.status, 403);
    assert.equal(codeOf(attacker), 'PODIAM_ROLE_NOT_PERMITTED');
    const neighbour = await answerFor('127.0.0.22');
    assert.equal(neighbour.status, 200, neighbour.body);
    assert.equal(neighbour.body, 'reader');
    const creds = await call(proxy.port, `${CREDS}reader`, { from: '127.0.0.22' });
    assert.equal(creds.status, 200, creds.body);
    assert.match(creds.body, /"AccessKeyId"/);
  });

  it('refuses a pod in a namespace whose permitted regexp has a backreference, naming it, instead of running it', async () => {
    await runPod('victim', 'backref', '127.0.0.23', `arn:aws:iam::${ACCOUNT}:role/team/team`);
    const a = await answerFor('127.0.0.23');
    assert.equal(a.status, 403);
    assert.equal(codeOf(a), 'PODIAM_NAMESPACE_ANNOTATION_INVALID');
    assert.match(a.body, /backreference/);
  });

  it('refuses another namespace\'s managed role asked for by name under another path, though the namespace permits every role', async () => {
    await runPod('squatter', 'everything', '127.0.0.24', `arn:aws:iam::${ACCOUNT}:role/team/test.orders.reader`);
    const a = await answerFor('127.0.0.24');
    assert.equal(a.status, 403);
    assert.equal(codeOf(a), 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });
});
