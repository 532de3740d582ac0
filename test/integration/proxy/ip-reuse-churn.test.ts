// Held-out attack (issue 11): IP reuse churn. A pod with role X is deleted and a pod with role Y
// takes its IP, again and again. Whoever holds the IP next must never get X's credentials once the
// proxy has seen X's pod go: not while the new pod is still unknown, not after it is indexed.
// Real kube-apiserver (+ etcd) for the pods, moto for STS, the metadata mock for the node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { KubeClient } from '../../../proxy/src/k8s/api-client.ts';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { call, TEST_ROLE_ARNS, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';
const IP = '127.0.0.111';
const CYCLES = 5;
const MAX_PROBES = 400;

describe('an IP reused by pods of different roles, again and again', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  let api: CoreV1Api;

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
    proxy = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_NODE_NAME: 'node-churn' }),
      { kube: await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath) },
    );
    await proxy.ready;
  });

  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  async function runPod(name: string, service: string): Promise<void> {
    await api.createNamespacedPod({ namespace: 'orders', body: { metadata: { name, namespace: 'orders', annotations: { 'iam.amazonaws.com/role': service } }, spec: { nodeName: 'node-churn', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } });
    await api.patchNamespacedPodStatus({ name, namespace: 'orders', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: IP, podIPs: [{ ip: IP }] } }] });
  }

  async function credentialsOf(role: string): Promise<{ status: number; key?: string }> {
    const a = await call(proxy.port, `${CREDS}${role}`, { from: IP });
    return a.status === 200 ? { status: 200, key: (JSON.parse(a.body) as { AccessKeyId: string }).AccessKeyId } : { status: a.status };
  }

  it("never hands the old pod's credentials to the IP once the old pod is gone, over five changes of owner", async () => {
    const services = ['reader', 'writer'];
    await runPod('churn-0', services[0]!);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const oldRole = `test.orders.${services[cycle % 2]}`;
      const newRole = `test.orders.${services[(cycle + 1) % 2]}`;
      // Prepare: the old pod is served.
      let oldKey: string | undefined;
      for (let i = 0; i < MAX_PROBES && !oldKey; i++) {
        oldKey = (await credentialsOf(oldRole)).key;
        if (!oldKey) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(oldKey, `cycle ${cycle}: the old pod (${oldRole}) was served`);

      // Act: delete the old pod and start the new one on the same IP at once, probing meanwhile.
      await api.deleteNamespacedPod({ name: `churn-${cycle}`, namespace: 'orders', gracePeriodSeconds: 0 });
      const created = runPod(`churn-${cycle + 1}`, services[(cycle + 1) % 2]!);
      const seen: string[] = [];
      let servedNew = false;
      for (let i = 0; i < MAX_PROBES && !servedNew; i++) {
        const old = await credentialsOf(oldRole);
        seen.push(old.status === 200 ? (old.key === oldKey ? 'old-key' : `other-key ${old.key}`) : String(old.status));
        const listing = await call(proxy.port, CREDS, { from: IP });
        servedNew = listing.status === 200 && listing.body === newRole;
      }
      await created;
      assert.ok(servedNew, `cycle ${cycle}: the new pod (${newRole}) was served`);

      // Assess: once the proxy stopped answering with the old pod's credentials, it never did again,
      // and never with other credentials of the old role; after the new pod is indexed, refused.
      const firstOther = seen.findIndex((s) => s !== 'old-key');
      const after = firstOther < 0 ? [] : seen.slice(firstOther);
      assert.ok(!after.includes('old-key'), `cycle ${cycle}: the old role's credentials came back after the old pod was gone: ${seen.join(',')}`);
      assert.ok(!seen.some((s) => s.startsWith('other-key')), `cycle ${cycle}: ${seen.join(',')}`);
      assert.equal((await credentialsOf(oldRole)).status, 403, `cycle ${cycle}: the old role is refused to the new pod`);
      const fresh = await credentialsOf(newRole);
      assert.equal(fresh.status, 200);
      assert.notEqual(fresh.key, oldKey);
    }
  });
});
