// End to end, as on a node: the proxy runs as its own process in a "node" network namespace and
// adds the real iptables DNAT rule for 169.254.169.254:80 on the pods' bridge; "pods" are network
// namespaces with 192.0.2.x addresses whose default route is the node. The Kubernetes API server,
// moto and the metadata mock run on the host's loopback and are reached through Unix-socket
// relays (forwarder.mjs), so no route joins the test namespaces to the host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { startPeers, tools, toolEnv, type Peers } from '../../peers/index.ts';
import { managedRoleArn } from '../../../core/src/naming.ts';
import { NetnsLab, netnsAvailable, waitForLine } from '../../peers/netns.ts';
import { ruleArgs } from '../../../proxy/src/iptables.ts';
import type { ChildProcess } from 'node:child_process';

const repo = process.env.PODIAM_REPO_ROOT ?? process.cwd();
const NODE_IP = '192.0.2.1';
const CREDS = '/latest/meta-data/iam/security-credentials/';

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

describe('pods in network namespaces behind the real iptables DNAT', { skip: !netnsAvailable() && 'PODIAM_SKIP: needs root (network namespaces and iptables)' }, () => {
  const lab = new NetnsLab('pdm');
  const relays: Server[] = [];
  const sockDir = mkdtempSync(path.join(tmpdir(), 'podiam-e2e-'));
  let peers: Peers;
  let api: CoreV1Api;
  let nodeNs: string;
  let bridge: string;
  let proxyProc: ChildProcess;
  const pods: Record<string, string> = {};
  let motoPort: number;

  after(async () => {
    if (proxyProc && proxyProc.exitCode === null) proxyProc.kill('SIGKILL');
    await lab.cleanup();
    for (const r of relays) r.close();
    rmSync(sockDir, { recursive: true, force: true });
    await peers?.stop();
  });

  /** Serves a Unix socket that relays to 127.0.0.1:port on the host. */
  function relay(port: number): string {
    const sock = path.join(sockDir, `${port}.sock`);
    const server = createServer((c) => {
      const up = createConnection({ host: '127.0.0.1', port });
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    }).listen(sock);
    relays.push(server);
    return sock;
  }

  async function runPod(name: string, namespace: string, ip: string, annotations: Record<string, string>): Promise<void> {
    await api.createNamespacedPod({ namespace, body: { metadata: { name, namespace, annotations }, spec: { nodeName: 'node-e2e', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } });
    await api.patchNamespacedPodStatus({ name, namespace, body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }] });
  }

  function podEnv(): NodeJS.ProcessEnv {
    const env = toolEnv({ AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'false' });
    delete env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
    return env;
  }

  async function podGet(ns: string, p: string): Promise<{ status: number; body: string }> {
    const { stdout } = await lab.exec(ns, process.execPath, ['--import', 'tsx', 'test/e2e/proxy/pod-client.ts', 'get', p], { cwd: repo, env: podEnv() });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: number; body: string };
  }

  // The rule exactly as the proxy writes it (proxy/src/iptables.ts): a change of shape shows here.
  const ruleSpec = (): string[] => ['-t', 'nat', '-C', ...ruleArgs({ hostInterface: bridge, hostIp: NODE_IP, port: 8181 })];

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    // moto (patched, as AWS) refuses AssumeRole of a role that does not exist: the pods' roles must be there.
    await peers.moto!.createRoles([['orders', 'reader'], ['billing', 'writer']].map(([namespace, service]) => managedRoleArn({ accountId: '123456789012' }, { cluster: 'test', namespace: namespace!, service: service! })));
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    nodeNs = await lab.namespace('node');
    bridge = await lab.bridge(nodeNs, `${NODE_IP}/24`);
    pods.a = await lab.pod('pa', nodeNs, bridge, '192.0.2.10/24', NODE_IP);
    pods.b = await lab.pod('pb', nodeNs, bridge, '192.0.2.11/24', NODE_IP);
    pods.c = await lab.pod('pc', nodeNs, bridge, '192.0.2.12/24', NODE_IP);
    pods.d = await lab.pod('pd', nodeNs, bridge, '192.0.2.13/24', NODE_IP);

    motoPort = Number(new URL(peers.moto!.endpoint).port);
    const imdsPort = Number(new URL(peers.imds!.endpoint).port);
    const kubePort = peers.kube!.port;
    const fwd = lab.spawn(nodeNs, process.execPath, [path.join(repo, 'test/e2e/proxy/forwarder.mjs'), ...[motoPort, imdsPort, kubePort].map((p) => `${p}=${relay(p)}`)]);
    await waitForLine(fwd, new RegExp(`forwarding ${kubePort}`), 10_000);

    for (const ns of ['orders', 'billing']) await api.createNamespace({ body: { metadata: { name: ns } } });
    proxyProc = lab.spawn(nodeNs, process.execPath, ['--import', 'tsx', 'proxy/src/main.ts'], {
      cwd: repo,
      env: {
        PATH: process.env.PATH,
        PODIAM_CLUSTER_NAME: 'test',
        NODE_NAME: 'node-e2e',
        HOST_IP: NODE_IP,
        PODIAM_HOST_INTERFACE: bridge,
        PODIAM_IPTABLES_CHECK_INTERVAL_MS: '300',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: `http://127.0.0.1:${imdsPort}`,
        PODIAM_STS_ENDPOINT: `http://127.0.0.1:${motoPort}`,
        PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
        PODIAM_LOG_LEVEL: 'info',
      },
    });
    await waitForLine(proxyProc, /podiam proxy ready/, 30_000);

    await runPod('reader', 'orders', '192.0.2.10', { 'iam.amazonaws.com/role': 'reader' });
    await runPod('writer', 'billing', '192.0.2.11', { 'iam.amazonaws.com/role': 'writer' });
    await runPod('plain', 'orders', '192.0.2.12', {});
    await runPod('sneaky', 'orders', '192.0.2.13', { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/podiam/test/test.billing.writer' });
  });

  it('gives the AWS SDK v3 in a pod its own role, named by moto\'s GetCallerIdentity', async () => {
    const out = await eventually('the SDK in pod a', async () => {
      const { stdout } = await lab.exec(pods.a!, process.execPath, ['--import', 'tsx', 'test/e2e/proxy/pod-client.ts', 'sdk', `http://${NODE_IP}:${motoPort}`], { cwd: repo, env: podEnv() });
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as { arn: string };
    });
    assert.equal(out.arn, 'arn:aws:sts::123456789012:assumed-role/test.orders.reader/orders.reader');
  });

  it('gives botocore in a second pod that pod\'s own role', async () => {
    const script = [
      'import botocore.session, json, sys',
      's = botocore.session.get_session()',
      'c = s.get_credentials()',
      'assert c is not None and c.method == "iam-role", c and c.method',
      'print(json.dumps({"arn": s.create_client("sts", region_name="us-east-1", endpoint_url=sys.argv[1]).get_caller_identity()["Arn"]}))',
    ].join('\n');
    const out = await eventually('botocore in pod b', async () => {
      const { stdout } = await lab.exec(pods.b!, tools.python, ['-c', script, `http://${NODE_IP}:${motoPort}`], { env: podEnv() });
      return JSON.parse(stdout.trim()) as { arn: string };
    });
    assert.equal(out.arn, 'arn:aws:sts::123456789012:assumed-role/test.billing.writer/billing.writer');
  });

  it('answers 404 to an unannotated pod', async () => {
    const r = await eventually('pod c indexed', async () => {
      const x = await podGet(pods.c!, CREDS);
      return x.status !== 503 && !x.body.includes('PODIAM_POD_UNKNOWN') && x;
    });
    assert.equal(r.status, 404);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_NO_ROLE');
  });

  it('denies a pod whose namespace forbids the role, with an Event on the pod', async () => {
    const r = await eventually('pod d indexed', async () => {
      const x = await podGet(pods.d!, CREDS);
      return x.status === 403 && x;
    });
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
    const event = await eventually('the Event', async () => (await api.listNamespacedEvent({ namespace: 'orders', fieldSelector: 'involvedObject.name=sneaky' })).items[0]);
    assert.equal(event.reason, 'PodiamRoleDenied');
  });

  it('restores the DNAT rule when something deletes it, and removes it on SIGTERM', async () => {
    await lab.exec(nodeNs, 'iptables', ['-w', '5', ...ruleSpec().map((a) => (a === '-C' ? '-D' : a))]);
    await eventually('the rule to come back', async () => {
      await lab.exec(nodeNs, 'iptables', ['-w', '5', ...ruleSpec()]);
      return true;
    });
    proxyProc.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => proxyProc.once('exit', resolve));
    assert.equal(code, 0);
    await assert.rejects(lab.exec(nodeNs, 'iptables', ['-w', '5', ...ruleSpec()]), 'the rule must be gone after shutdown');
  });
});
