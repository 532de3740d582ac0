// Held-out attacks (issue 11) as a pod makes them: from pods in their own network namespaces,
// through the node's real DNAT rule to the proxy (its own process, real iptables), with a real
// API server, moto as STS and the metadata mock as the node's IMDS. A smaller set than the
// loopback suites: 1,000 requests of the seeded fuzz corpus from each of two pods, and a token
// replayed between them. No answer may carry the other pod's or the node's credentials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { CoreV1Api } from '@kubernetes/client-node';
import { startPeers, toolEnv, type Peers } from '../../peers/index.ts';
import { netnsAvailable } from '../../peers/netns.ts';
import { TEST_ROLE_ARNS } from '../../integration/proxy/helpers.ts';
import { NodeLab, repo } from './node-lab.ts';

const NODE_IP = '192.0.2.1';
const NODE_KEY = 'ASIANODEROLEDNAT0001';
const PODS = [
  { name: 'pod-a', ip: '192.0.2.10', service: 'reader' },
  { name: 'pod-b', ip: '192.0.2.11', service: 'writer' },
] as const;
const FUZZ_PER_POD = 1000;

describe('attacks from pods through the real DNAT rule', { skip: !netnsAvailable() && 'PODIAM_SKIP: needs root (network namespaces and iptables)' }, () => {
  const node = new NodeLab('pda', NODE_IP);
  let peers: Peers;
  let proxy: ChildProcess | undefined;
  const ns = new Map<string, string>();
  const keyOf = new Map<string, string>();

  async function attack<T>(pod: string, args: string[]): Promise<T> {
    const env = toolEnv({});
    const { stdout } = await node.lab.exec(ns.get(pod)!, process.execPath, ['--import', 'tsx', 'test/e2e/proxy/attack-client.ts', ...args], { cwd: repo, env, timeoutMs: 120_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
  }

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role', credentials: { AccessKeyId: NODE_KEY } } }, kube: true });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    const port = (endpoint: string): number => Number(new URL(endpoint).port);
    await node.start([peers.kube!.port, port(peers.moto!.endpoint), port(peers.imds!.endpoint)]);
    const api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
    for (const p of PODS) {
      ns.set(p.name, await node.pod(p.name.slice(-1) === 'a' ? 'qa' : 'qb', `${p.ip}/24`));
      await api.createNamespacedPod({ namespace: 'orders', body: { metadata: { name: p.name, namespace: 'orders', annotations: { 'iam.amazonaws.com/role': p.service } }, spec: { nodeName: 'node-dnat', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } });
      await api.patchNamespacedPodStatus({ name: p.name, namespace: 'orders', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] } }] });
    }
    proxy = await node.proxy({
      PODIAM_CLUSTER_NAME: 'test',
      NODE_NAME: 'node-dnat',
      PODIAM_AWS_REGION: 'us-east-1',
      PODIAM_ACCOUNT_ID: '123456789012',
      PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
      PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
      PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
    });
    for (const p of PODS) {
      const own = await attack<{ status: number; key?: string }>(p.name, ['creds', `test.orders.${p.service}`]);
      assert.equal(own.status, 200, `${p.name} is served its own role through the DNAT rule`);
      keyOf.set(p.name, own.key!);
    }
  });

  after(async () => {
    await node.stopProxy(proxy);
    await node.cleanup();
    await peers?.stop();
  });

  it("refuses a token replayed from the other pod's namespace", async () => {
    const { token } = await attack<{ token: string }>('pod-b', ['token']);
    const replayed = await attack<{ status: number; key?: string }>('pod-a', ['creds', 'test.orders.writer', token]);
    assert.equal(replayed.status, 401);
    assert.equal(replayed.key, undefined);
  });

  it(`never answers ${FUZZ_PER_POD} fuzzed requests from each pod with the other pod's or the node's credentials`, async () => {
    const { token: tokenOfB } = await attack<{ token: string }>('pod-b', ['token']);
    const { token: tokenOfA } = await attack<{ token: string }>('pod-a', ['token']);
    type FuzzResult = { sent: number; keys: Record<string, number>; statuses: Record<string, number> };
    const results: Array<FuzzResult & { pod: string }> = [];
    for (const [me, other, otherToken] of [[PODS[0], PODS[1], tokenOfB], [PODS[1], PODS[0], tokenOfA]] as const) {
      const target = { ownRole: `test.orders.${me.service}`, otherRoles: [`test.orders.${other.service}`], nodeRole: 'node-role', otherToken, otherIp: other.ip };
      const r: FuzzResult = await attack<FuzzResult>(me.name, ['fuzz', String(20261130 + results.length), String(FUZZ_PER_POD), JSON.stringify(target)]);
      results.push({ pod: me.name, ...r });
      assert.equal(r.sent, FUZZ_PER_POD);
      const foreign = Object.keys(r.keys).filter((k) => k !== keyOf.get(me.name));
      assert.deepEqual(foreign, [], `${me.name} got credentials not its own (node key ${NODE_KEY})`);
      assert.ok((r.keys[keyOf.get(me.name)!] ?? 0) > 0, `${me.name}'s corpus reached the credentials handler too`);
    }
    console.log(JSON.stringify(results));
  });
});
