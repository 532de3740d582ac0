// Security regressions (issue 11, items 4 and 5), on a "node" network namespace with the real
// iptables, a real API server and the proxy as its own process:
//  - on SIGTERM the proxy removed its DNAT rule, so during a rolling update pods reached the
//    node's real IMDS (here a marker server on 169.254.169.254:80 inside the node namespace);
//  - the proxy's port listens on the host network, so a pod on another node could connect to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { AppsV1Api } from '@kubernetes/client-node';
import { startPeers, type Peers } from '../../peers/index.ts';
import { NetnsLab, netnsAvailable } from '../../peers/netns.ts';
import { guardRuleArgs, ruleArgs } from '../../../proxy/src/iptables.ts';
import { NodeLab } from './node-lab.ts';

const NODE_IP = '192.0.2.1';
const DAEMONSET = 'podiam-e2e';
type Answer = { status?: number; body?: string; error?: string };

describe('the proxy across restarts, and its port, on a node with real iptables', { skip: !netnsAvailable() && 'PODIAM_SKIP: needs root (network namespaces and iptables)' }, () => {
  const node = new NodeLab('pdk', NODE_IP);
  const elsewhere = new NetnsLab('pdx');
  let peers: Peers;
  let apps: AppsV1Api;
  let pod: string;
  let remote: string;
  let proxyEnv: Record<string, string>;
  const spec = (port = 8181): { hostInterface: string; hostIp: string; port: number } => ({ hostInterface: node.bridge, hostIp: NODE_IP, port });

  before(async () => {
    peers = await startPeers({ kube: true });
    apps = peers.kube!.kubeConfig().makeApiClient(AppsV1Api);
    const kubePort = peers.kube!.port;
    await node.start([kubePort]);
    pod = await node.pod('pa', '192.0.2.10/24');
    // A host that is not a pod of this node: another bridge of the node namespace, another range.
    const otherBridge = await elsewhere.bridge(node.nodeNs, '198.51.100.1/24');
    remote = await elsewhere.pod('far', node.nodeNs, otherBridge, '198.51.100.10/24', '198.51.100.1');
    // The node's real IMDS, as pods would reach it without the DNAT rule.
    await node.lab.exec(node.nodeNs, 'ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
    node.lab.spawn(node.nodeNs, process.execPath, ['-e', "require('node:http').createServer((q, s) => s.end('NODE-IMDS')).listen(80, '169.254.169.254', () => console.log('imds up'))"]);
    await apps.createNamespacedDaemonSet({
      namespace: 'default',
      body: {
        metadata: { name: DAEMONSET },
        spec: { selector: { matchLabels: { app: 'podiam' } }, template: { metadata: { labels: { app: 'podiam' } }, spec: { containers: [{ name: 'proxy', image: 'example.invalid/podiam:1' }] } } },
      },
    });
    proxyEnv = {
      PODIAM_CLUSTER_NAME: 'test',
      NODE_NAME: 'node-e2e',
      PODIAM_AWS_REGION: 'us-east-1',
      PODIAM_ACCOUNT_ID: '123456789012',
      PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9',
      PODIAM_PREFETCH: 'false',
      PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
      PODIAM_DAEMONSET_NAME: DAEMONSET,
      PODIAM_NAMESPACE: 'default',
    };
    // The marker answers before any proxy runs: the test can see an exposed IMDS.
    const exposed = await node.client<Answer>(pod, ['url', 'http://169.254.169.254/latest/meta-data/']);
    assert.equal(exposed.body, 'NODE-IMDS', 'without the proxy, the pod reaches the node IMDS stand-in');
  });

  after(async () => {
    await elsewhere.cleanup();
    await node.cleanup();
    await peers?.stop();
  });

  async function stop(proxy: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => proxy.once('exit', resolve));
    proxy.kill('SIGTERM');
    return exited;
  }

  it("never lets a pod reach the node's IMDS while the proxy restarts, and leaves no rule behind on uninstall", async () => {
    const first = await node.proxy(proxyEnv);
    const served = await node.client<Answer>(pod, ['url', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/']);
    assert.notEqual(served.body, 'NODE-IMDS');
    assert.equal(served.status, 401, 'the proxy answers (IMDSv2 required)');

    assert.equal(await stop(first), 0);
    assert.equal(await node.hasRule('nat', ruleArgs(spec())), true, 'the DNAT rule stays while the DaemonSet remains');
    assert.equal(await node.hasRule('filter', guardRuleArgs(spec())), true, 'so does the port guard');
    const between = await node.client<Answer>(pod, ['url', 'http://169.254.169.254/latest/meta-data/']);
    assert.ok(between.error, `between two proxies the pod must be refused, got ${JSON.stringify(between)}`);
    assert.notEqual(between.body, 'NODE-IMDS');

    // The upgrade also moves the port: the new proxy replaces its predecessor's rules.
    const second = await node.proxy({ ...proxyEnv, PODIAM_PORT: '8282' });
    const again = await node.client<Answer>(pod, ['url', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/']);
    assert.equal(again.status, 401, 'the new proxy took the rules over');
    assert.equal(await node.hasRule('nat', ruleArgs(spec(8181))), false, "the predecessor's DNAT rule for the old port is gone");
    assert.equal(await node.hasRule('filter', guardRuleArgs(spec(8181))), false, "and its port guard");

    await apps.deleteNamespacedDaemonSet({ name: DAEMONSET, namespace: 'default' });
    assert.equal(await stop(second), 0);
    assert.equal(await node.hasRule('nat', ruleArgs(spec(8282))), false, 'uninstall removes the DNAT rule');
    assert.equal(await node.hasRule('filter', guardRuleArgs(spec(8282))), false, 'and the port guard');
    const after = await node.client<Answer>(pod, ['url', 'http://169.254.169.254/latest/meta-data/']);
    assert.equal(after.body, 'NODE-IMDS', 'with podiam uninstalled the node is as it was');
  });

  it("refuses the proxy's port to a host that is not a pod of this node, and serves the node's pods", async () => {
    const proxy = await node.proxy({ ...proxyEnv, PODIAM_DAEMONSET_NAME: '', PODIAM_NAMESPACE: '' });
    try {
      const local = await node.client<Answer>(pod, ['url', `http://${NODE_IP}:8181/healthz`]);
      assert.equal(local.status, 200, JSON.stringify(local));
      const far = await node.client<Answer>(remote, ['url', `http://${NODE_IP}:8181/healthz`]);
      assert.ok(far.error && far.status === undefined, `a host on another interface must not reach the proxy, got ${JSON.stringify(far)}`);
    } finally {
      await stop(proxy);
    }
  });
});
