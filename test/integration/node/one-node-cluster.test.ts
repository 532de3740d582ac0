// A real one-node cluster (test/peers/node.ts): kubelet and containerd in a network namespace,
// pods in runc containers on the CNI bridge, the controller manager and scheduler doing their
// work, and nothing of it left on the machine (or in the root namespace's network) afterwards.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { apiRequest, pollUntil } from '../../peers/node/api.ts';
import { nodeIp, nodeSkipReason, probeImage, startNode, type KubeNode } from '../../peers/node.ts';
import { freePort } from '../../peers/process.ts';
import { requireTool } from '../../peers/tools.ts';

const run = promisify(execFile);

const skip = nodeSkipReason();

/** The root namespace's network as text that changes only when an address, route or rule does. */
async function rootNetwork(): Promise<string> {
  const [addr, route, rules] = await Promise.all([
    run('ip', ['-o', 'addr', 'show'], { timeout: 10_000 }),
    run('ip', ['route', 'show', 'table', 'all'], { timeout: 10_000 }),
    run('iptables-save', [], { timeout: 10_000 }),
  ]);
  const stableRules = rules.stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');
  return [addr.stdout, route.stdout, stableRules].join('\n---\n');
}

interface Pod {
  metadata?: { ownerReferences?: Array<{ kind: string }> };
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string };
}

function probePod(name: string, hostNetwork: boolean, args = ['-whoami']): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      hostNetwork,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'probe', image: probeImage, imagePullPolicy: 'Never', args }],
    },
  };
}

describe('a real one-node cluster: kubelet, containerd and the CNI bridge in a network namespace', { skip }, () => {
  let node: KubeNode;
  let rootBefore: string;
  let rootService: Server;
  // A service on the root namespace's loopback, offered inside the node namespace at this address.
  const exposedAt = '203.0.113.251:8080';

  before(async () => {
    rootBefore = await rootNetwork();
    const port = await freePort();
    rootService = createServer((_req, res) => res.end('hello from root loopback'));
    await new Promise<void>((resolve) => rootService.listen(port, '127.0.0.1', resolve));
    node = await startNode({ expose: [{ listen: exposedAt, target: `127.0.0.1:${port}` }] });
  });
  after(async () => {
    await node?.stop();
    rootService?.close();
  });

  async function runningPod(name: string): Promise<Pod> {
    return pollUntil(`pod ${name} Running`, 60_000, async () => {
      const r = await apiRequest(node.kube, 'GET', `/api/v1/namespaces/default/pods/${name}`);
      const pod = r.json as Pod;
      return pod.status?.phase === 'Running' ? pod : undefined;
    });
  }

  /** The pod's log, read through the API server, which reaches the kubelet over the egress selector. */
  async function logOnceItSays(name: string, line: RegExp): Promise<string> {
    return pollUntil(`log of ${name} matching ${line}`, 30_000, async () => {
      const r = await apiRequest(node.kube, 'GET', `/api/v1/namespaces/default/pods/${name}/log`);
      return r.status === 200 && typeof r.json === 'string' && line.test(r.json) ? r.json : undefined;
    });
  }

  it('registers the node, which goes Ready with its address from the node namespace', async (t) => {
    t.diagnostic(`node Ready ${node.upMs} ms after startNode(); milestones (ms): ${JSON.stringify(node.milestones)}`);
    const r = await apiRequest(node.kube, 'GET', `/api/v1/nodes/${node.nodeName}`);
    const status = (r.json as { status: { conditions: Array<{ type: string; status: string }>; addresses: Array<{ type: string; address: string }> } }).status;

    assert.equal(status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(status.addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address), [nodeIp]);
  });

  it('runs a pod on the CNI bridge with an address from 203.0.113.0/24 that reaches the API server through the kubernetes Service with its own token', async () => {
    await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/pods', probePod('on-bridge', false));

    const pod = await runningPod('on-bridge');
    const log = await logOnceItSays('on-bridge', /^whoami /m);

    assert.match(pod.status?.podIP ?? '', /^203\.0\.113\.\d+$/);
    assert.match(log, new RegExp(`^addr eth0 ${pod.status!.podIP!.replace(/\./g, '\\.')}/24$`, 'm'));
    assert.match(log, /^whoami system:serviceaccount:default:default$/m);
  });

  it('gives a hostNetwork pod the node namespace\'s interfaces, not the root namespace\'s', async () => {
    const rootAddresses = Object.values(networkInterfaces()).flat().map((a) => a?.address).filter((a): a is string => !!a && a !== '127.0.0.1' && a !== '::1');
    await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/pods', probePod('host-network', true));

    await runningPod('host-network');
    const log = await logOnceItSays('host-network', /^whoami /m);

    assert.match(log, new RegExp(`^addr lo ${nodeIp.replace(/\./g, '\\.')}/32$`, 'm'));
    assert.ok(rootAddresses.length > 0, 'the root namespace has addresses to compare with');
    for (const a of rootAddresses) assert.ok(!log.includes(` ${a}/`), `the hostNetwork pod sees the root namespace's ${a}:\n${log}`);
    assert.match(log, /^whoami system:serviceaccount:default:default$/m);
  });

  it('schedules a DaemonSet\'s pod on the node through the controller manager', async (t) => {
    await apiRequest(node.kube, 'POST', '/apis/apps/v1/namespaces/default/daemonsets', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'probe-ds' },
      spec: {
        selector: { matchLabels: { app: 'probe-ds' } },
        template: {
          metadata: { labels: { app: 'probe-ds' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'probe', image: probeImage, imagePullPolicy: 'Never' }] },
        },
      },
    });

    const ready = await pollUntil('DaemonSet ready', 60_000, async () => {
      const r = await apiRequest(node.kube, 'GET', '/apis/apps/v1/namespaces/default/daemonsets/probe-ds');
      const s = (r.json as { status?: { numberReady?: number; desiredNumberScheduled?: number } }).status;
      return s?.numberReady === 1 ? s : undefined;
    });
    const pods = (await apiRequest(node.kube, 'GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dprobe-ds')).json as { items: Pod[] };

    assert.equal(ready.desiredNumberScheduled, 1);
    assert.equal(pods.items.length, 1);
    assert.equal(pods.items[0]!.spec?.nodeName, node.nodeName);
    assert.equal(pods.items[0]!.metadata?.ownerReferences?.[0]?.kind, 'DaemonSet');
    t.diagnostic(`RSS (kB): ${JSON.stringify(node.rss())}`);
  });

  it('runs a command in a pod with kubectl exec, through the API server, the egress selector and the kubelet', async () => {
    await runningPod('on-bridge');

    const { stdout } = await run(requireTool('kubectl'), ['exec', 'on-bridge', '--', '/node-probe', '-once'], { env: { ...process.env, ...node.kube.env }, timeout: 30_000 });

    assert.match(stdout, /^addr eth0 203\.0\.113\.\d+\/24$/m);
  });

  it('offers a root-loopback service inside the node namespace to pods and to the node at the address asked for', async () => {
    await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/pods', probePod('exposed', false, ['-get', `http://${exposedAt}/`]));

    await runningPod('exposed');
    const log = await logOnceItSays('exposed', /^get/m);
    const fromNode = await node.execInNode(process.execPath, ['-e', `fetch('http://${exposedAt}/').then(async (r) => console.log(r.status, await r.text()))`]);

    assert.match(log, /^get 200 hello from root loopback$/m);
    assert.equal(fromNode.stdout.trim(), '200 hello from root loopback');
  });

  // Webhooks by URL take the API server's control-plane egress (not configured: a direct dial);
  // checked once with ns-bridge dialing every CONNECT target inside the node namespace: still called.
  it('calls a TLS admission webhook by URL on root loopback', async () => {
    const cert = await node.kube.issueServingCert({ ips: ['127.0.0.1'] });
    const webhook = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string } };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: false, status: { code: 403, message: 'refused by the root-loopback webhook' } } }));
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    try {
      await apiRequest(node.kube, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
        apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'node-test' },
        webhooks: [{
          name: 'refuse.node-test.podiam.test', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
          objectSelector: { matchLabels: { 'podiam.test/refuse': 'true' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
          clientConfig: { url: `https://127.0.0.1:${(webhook.address() as { port: number }).port}/validate`, caBundle: Buffer.from(cert.caPem).toString('base64') },
        }],
      });

      // The API server picks the configuration up through an informer: retry (bounded) until the webhook answers.
      let n = 0;
      const refusal = await pollUntil('the webhook refuses', 20_000, async () => {
        const r = await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `refuse-me-${n++}`, labels: { 'podiam.test/refuse': 'true' } } });
        return r.status === 201 ? undefined : r;
      });

      assert.equal(refusal.status, 403);
      assert.match(JSON.stringify(refusal.json), /refused by the root-loopback webhook/);
    } finally {
      await apiRequest(node.kube, 'DELETE', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/node-test');
      webhook.close();
    }
  });

  it('refuses kubelet API requests without credentials and from a pod\'s service-account token', async () => {
    const token = ((await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/serviceaccounts/default/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} })).json as { status: { token: string } }).status.token;
    // From the node namespace, where every pod can reach the kubelet's port (pods on the bridge by its gateway, hostNetwork pods directly).
    const ask = (auth: string): Promise<{ stdout: string }> => node.execInNode(process.execPath, ['-e', [
      "const https = require('node:https');",
      `const req = https.get('https://${nodeIp}:10250/pods', { rejectUnauthorized: false, headers: ${JSON.stringify(auth ? { authorization: `Bearer ${auth}` } : {})} }, (res) => { console.log(res.statusCode); res.resume(); });`,
      "req.on('error', (e) => console.log('error', e.message));",
    ].join('\n')]);

    const anonymous = await ask('');
    const withPodToken = await ask(token);

    assert.equal(anonymous.stdout.trim(), '401');
    assert.equal(withPodToken.stdout.trim(), '403');
  });

  it('refuses the kubelet\'s own credentials a node-restriction label on its Node (NodeRestriction)', async () => {
    const kc = JSON.parse(readFileSync(node.kubeletKubeconfigPath, 'utf8')) as { users: Array<{ user: Record<string, string> }>; clusters: Array<{ cluster: Record<string, string> }> };
    const b64 = (v: string | undefined): string => Buffer.from(v ?? '', 'base64').toString('utf8');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(new URL(`/api/v1/nodes/${node.nodeName}`, node.kube.server), {
        method: 'PATCH',
        ca: b64(kc.clusters[0]!.cluster['certificate-authority-data']),
        cert: b64(kc.users[0]!.user['client-certificate-data']),
        key: b64(kc.users[0]!.user['client-key-data']),
        headers: { 'content-type': 'application/merge-patch+json' },
        timeout: 10_000,
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ metadata: { labels: { 'node-restriction.kubernetes.io/podiam-test': 'attracts-workloads' } } }));
    });

    assert.equal(status, 403);
  });

  it('leaves no process, network namespace, mount, cgroup or host path after stop(), and the root namespace\'s network unchanged', async (t) => {
    const before = await node.leftovers();
    assert.ok(before.processes.length > 0 && before.netns && before.mounts.length > 0 && before.cgroups.length > 0, 'the running node is visible to leftovers()');

    t.diagnostic(`stop() took ${await node.stop()} ms`);
    const left = await node.leftovers();

    assert.deepEqual(left, { processes: [], netns: false, mounts: [], cgroups: [], hostPaths: [], scratch: false });
    assert.equal(await rootNetwork(), rootBefore);
  });
});
