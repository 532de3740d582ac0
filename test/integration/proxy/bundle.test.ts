// The shipped form: proxy/src/main.ts bundled by esbuild with the options of scripts/build.mjs,
// run as a plain `node main.cjs` process under the shipped Node (24, as in the image) against the
// real peers. It must refuse a bad setting with exit code 2 naming the setting, serve pods, become
// ready, and exit 0 on SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { proxyBundleOptions } from '../../../scripts/esbuild-options.mjs';
import { CoreV1Api } from '@kubernetes/client-node';
import { freePort, startPeers, type Peers } from '../../peers/index.ts';
import { shippedNode } from '../../peers/shipped-node.ts';
import { waitForLine } from '../../peers/netns.ts';
import { call, TEST_ROLE_ARNS } from './helpers.ts';

const repo = process.env.PODIAM_REPO_ROOT ?? process.cwd();

describe('the bundled proxy as a process', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-bundle-'));
  const bundle = path.join(dir, 'main.cjs');
  let peers: Peers;
  let proc: ChildProcess | undefined;

  after(async () => {
    if (proc && proc.exitCode === null) proc.kill('SIGKILL');
    await peers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  before(async () => {
    await build({
      entryPoints: [path.join(repo, 'proxy/src/main.ts')],
      outfile: bundle,
      ...proxyBundleOptions,
    });
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
  });

  it('carries none of @kubernetes/client-node: the proxy talks to the API server with its own client (issue 16)', () => {
    const code = readFileSync(bundle, 'utf8');
    // Strings client-node's generated API and KubeConfig keep through minification (its error
    // messages name "CoreV1Api.<method>"; loadFromCluster is a method name); a bundle built with
    // client-node holds hundreds of the first.
    for (const marker of ['CoreV1Api', 'AppsV1Api', 'loadFromCluster', 'makeApiClient']) {
      assert.equal(code.includes(marker), false, `the proxy bundle contains ${marker}`);
    }
  });

  it('carries no prom-client: the proxy writes its metrics itself, 10 MB less resident (issue 16)', async () => {
    // esbuild's own list of the files it bundled, rather than strings that minification may keep.
    const { metafile } = await build({ entryPoints: [path.join(repo, 'proxy/src/main.ts')], ...proxyBundleOptions, write: false, outfile: bundle, metafile: true });
    const inputs = Object.keys(metafile.inputs);
    assert.ok(inputs.some((f) => f.endsWith('proxy/src/prometheus.ts')), 'the metafile lists the proxy sources');
    const promClient = inputs.filter((f) => /node_modules\/(prom-client|tdigest|bintrees|@opentelemetry\/api)\//.test(f));
    assert.deepEqual(promClient, [], 'prom-client and its dependencies are not in the proxy bundle');
  });

  it('exits 2 with the setting and the fix when the configuration is wrong', async () => {
    const r = await promisify(execFile)(shippedNode(), [bundle], { env: { PATH: process.env.PATH, PODIAM_CLUSTER_NAME: 'Bad_Name' } }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(r.code, 2);
    const line = JSON.parse(r.stderr.trim()) as { code: string; msg: string };
    assert.equal(line.code, 'PODIAM_CONFIG_INVALID');
    assert.match(line.msg, /^PODIAM_CLUSTER_NAME: 'Bad_Name' is not a DNS-1123 label/);
  });

  it('serves a pod, reports ready and shuts down cleanly on SIGTERM', async () => {
    const api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
    const port = await freePort();
    const metricsPort = await freePort();
    proc = spawn(shippedNode(), [bundle, '--port', String(port), `--metrics-port=${metricsPort}`], {
      env: {
        PATH: process.env.PATH,
        PODIAM_CLUSTER_NAME: 'test',
        NODE_NAME: 'node-bundle',
        PODIAM_IPTABLES: 'false',
        PODIAM_LISTEN_ADDRESS: '127.0.0.1',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
        PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
        PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForLine(proc, /podiam proxy ready/, 30_000);
    assert.equal((await call(metricsPort, '/readyz')).status, 200);
    await api.createNamespacedPod({ namespace: 'orders', body: { metadata: { name: 'p', namespace: 'orders', annotations: { 'iam.amazonaws.com/role': 'reader' } }, spec: { nodeName: 'node-bundle', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } });
    await api.patchNamespacedPodStatus({ name: 'p', namespace: 'orders', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } }] });
    // The shipped defaults require IMDSv2: a token first, as every current SDK does.
    const token = (await call(port, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } })).body;
    const v2 = { headers: { 'x-aws-ec2-metadata-token': token } };
    assert.equal((await call(port, '/latest/meta-data/iam/security-credentials/')).status, 401, 'IMDSv1 is refused by default');
    let body = '';
    for (let i = 0; i < 100 && body !== 'test.orders.reader'; i++) {
      body = (await call(port, '/latest/meta-data/iam/security-credentials/', v2)).body;
      if (body !== 'test.orders.reader') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, 'test.orders.reader');
    const creds = await call(port, '/latest/meta-data/iam/security-credentials/test.orders.reader', v2);
    assert.equal(creds.status, 200);
    const exit = new Promise<number | null>((resolve) => proc!.once('exit', resolve));
    proc.kill('SIGTERM');
    assert.equal(await exit, 0);
  });
});
