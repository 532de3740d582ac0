// The chart's DaemonSet, as the real API server stored it, run for real: the image's /app/main.cjs
// under the image's own /nodejs/bin/node (proxy/Dockerfile built by buildah, see image.ts) started
// with exactly the container's env (downward-API fields filled in as a kubelet would, for a "node" on
// loopback) and a token of the chart's own ServiceAccount. Proves that the env wiring starts the proxy, that the probes' paths and
// ports answer, that the chart's RBAC is enough for the proxy's watches and denial Events, that the
// `helm test` pod's script passes against the proxy and fails against a real IMDS (the script is run
// here with node, its metadata endpoint pointed at loopback: no kubelet runs, and tests never send
// traffic to 169.254.169.254), and that SIGTERM ends it cleanly.
import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROLE_ANNOTATION } from '../../../core/src/annotations.ts';
import { freePort, startImdsMock, startKube, type ImdsMock, type Kube } from '../../peers/index.ts';
import { chartDir, parseManifests, releaseName, releaseNamespace, resolveEnv, withValuesFile, type EnvVar } from '../../unit/chart/chart.ts';
import { clients } from './cluster.ts';
import { unpackProxyImage, type ProxyImage } from './image.ts';

const NODE = 'node-a';
const NODE_IP = '127.0.0.1';
const POD_IP = '127.0.0.77';

interface Probe {
  httpGet: { path: string; port: string | number };
}
interface StoredContainer {
  env: EnvVar[];
  ports: Array<{ name: string; containerPort: number }>;
  livenessProbe: Probe;
  readinessProbe: Probe;
}

/** A metadata path over IMDSv2, as the SDKs do: the chart requires it by default. */
async function imdsGet(port: number, urlPath: string, from = '127.0.0.1'): Promise<{ status: number; body: string }> {
  const token = await send(port, '/latest/api/token', from, 'PUT', { 'x-aws-ec2-metadata-token-ttl-seconds': '60' });
  if (token.status !== 200) return token;
  return send(port, urlPath, from, 'GET', { 'x-aws-ec2-metadata-token': token.body });
}

/** A probe path (no token). */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return send(port, urlPath, '127.0.0.1', 'GET', {});
}

function send(port: number, urlPath: string, from: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: NODE_IP, port, path: urlPath, method, headers, localAddress: from, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer for ${urlPath}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until the check passes; at most `tries` times, 200 ms apart. */
async function eventually<T>(what: string, tries: number, check: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err: unknown) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`${what}: not reached after ${tries} tries${last ? ` (last error: ${String(last)})` : ''}`);
}

describe('the proxy started from the chart\'s stored DaemonSet', () => {
  let kube: Kube;
  let imds: ImdsMock;
  let c: ReturnType<typeof clients>;
  let proxy: ChildProcess | undefined;
  let output = '';
  let container: StoredContainer;
  let image: ProxyImage | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-chart-proxy-'));

  before(async () => {
    [kube, imds, image] = await Promise.all([startKube(), startImdsMock(), unpackProxyImage()]);
    c = clients(kube);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const values = {
      clusterName: 'prod-eu',
      iptables: false,
      port,
      metricsPort,
      awsRegion: 'us-east-1',
      accountId: '123456789012',
      imdsUpstream: imds.endpoint,
      logLevel: 'warn',
    };
    const installed = await withValuesFile(values, (file) => c.helm(['upgrade', '--install', releaseName, chartDir, '-n', releaseNamespace, '--values', file]));
    assert.ok(installed.ok, installed.stderr);
    const ds = await c.getJson<{ spec: { template: { spec: { serviceAccountName: string; containers: StoredContainer[] } } } }>(['daemonset', releaseName, '-n', releaseNamespace]);
    container = ds.spec.template.spec.containers[0]!;

    // A token of the chart's ServiceAccount, so the proxy has exactly the chart's RBAC.
    const token = await c.kubectl(['create', 'token', ds.spec.template.spec.serviceAccountName, '-n', releaseNamespace, '--duration=10m']);
    assert.ok(token.ok, token.stderr);
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'test', cluster: { server: kube.server, 'certificate-authority-data': Buffer.from(kube.caPem).toString('base64') } }],
        users: [{ name: 'podiam-sa', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'podiam-sa' } }],
        'current-context': 'test',
      }),
    );

    const env = resolveEnv(container.env, { 'spec.nodeName': NODE, 'status.hostIP': NODE_IP, 'metadata.namespace': releaseNamespace });
    // The image's ENTRYPOINT and CMD: /nodejs/bin/node --memory-saver-mode /app/main.cjs.
    const img = image!;
    const cmd = (img.config.Cmd ?? []).map((a) => (a === '/app/main.cjs' ? img.main : a));
    assert.ok(cmd.includes(img.main), `CMD ${JSON.stringify(img.config.Cmd)} runs /app/main.cjs`);
    proxy = spawn(img.node, cmd, {
      cwd: path.dirname(img.main),
      // Only what the pod would have (the image's ENV under the container's), plus the in-cluster
      // credentials the kubelet would mount.
      env: { PATH: process.env.PATH, ...Object.fromEntries((img.config.Env ?? []).map((e) => e.split(/=(.*)/s).slice(0, 2))), ...env, PODIAM_KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proxy.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proxy.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  });
  after(async () => {
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) proxy.kill('SIGKILL');
    await Promise.allSettled([kube?.stop(), imds?.stop()]);
    image?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const portOf = (probe: Probe): number => {
    const p = probe.httpGet.port;
    if (typeof p === 'number') return p;
    const named = container.ports.find((x) => x.name === p);
    assert.ok(named, `probe port '${p}' is a named container port`);
    return named.containerPort;
  };

  it('answers the liveness probe exactly as the DaemonSet defines it', async () => {
    const probe = container.livenessProbe;
    const answer = await eventually('liveness', 100, async () => {
      const r = await get(portOf(probe), probe.httpGet.path);
      return r.status === 200 ? r : undefined;
    }).catch((err: unknown) => assert.fail(`${String(err)}\nproxy output:\n${output}`));
    assert.equal(answer.body.trim(), 'ok');
  });

  it('becomes ready (pod and namespace watches synced) with the chart\'s RBAC', async () => {
    const probe = container.readinessProbe;
    await eventually('readiness', 100, async () => ((await get(portOf(probe), probe.httpGet.path)).status === 200 ? true : undefined)).catch((err: unknown) =>
      assert.fail(`${String(err)}\nproxy output:\n${output}`),
    );
  });

  it('records a denial Event on the pod with the chart\'s RBAC', async () => {
    assert.ok((await c.kubectl(['create', 'namespace', 'orders'])).ok);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'greedy', namespace: 'orders', annotations: { [ROLE_ANNOTATION]: 'arn:aws:iam::999999999999:role/admin' } },
      spec: { nodeName: NODE, containers: [{ name: 'app', image: 'registry.example/app:1.0.0' }] },
    };
    assert.ok((await c.kubectl(['create', '-f', '-'], JSON.stringify(pod))).ok);
    const patched = await c.kubectl(['patch', 'pod', 'greedy', '-n', 'orders', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: POD_IP, podIPs: [{ ip: POD_IP }] } })]);
    assert.ok(patched.ok, patched.stderr);
    const port = container.ports.find((p) => p.name === 'metadata')!.containerPort;
    const denied = await eventually('a 403 for the pod', 50, async () => {
      const r = await imdsGet(port, '/latest/meta-data/iam/security-credentials/', POD_IP);
      return r.status === 403 ? r : undefined;
    });
    assert.match(denied.body, /PODIAM_/);
    const events = await eventually('an Event on the pod', 50, async () => {
      const r = await c.getJson<{ items: Array<{ reason: string; message: string }> }>(['events', '-n', 'orders', '--field-selector', 'involvedObject.name=greedy']);
      return r.items.length ? r.items : undefined;
    });
    // The proxy writes it (reason PodiamRoleDenied), its message starting with the denial's code.
    assert.ok(events.some((e) => e.reason === 'PodiamRoleDenied' && /^PODIAM_ROLE_NOT_PERMITTED: .*999999999999/.test(e.message)), JSON.stringify(events));
  });

  /** The `helm test` pod's own script (from `helm get hooks`), run with its env and one override. */
  async function runHelmTestScript(metadataEndpoint: string): Promise<{ code: number | null; output: string }> {
    const hooks = await c.helm(['get', 'hooks', releaseName, '-n', releaseNamespace]);
    assert.ok(hooks.ok, hooks.stderr);
    const pod = parseManifests(hooks.stdout).find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
    assert.ok(pod, 'the release has a helm test pod');
    const spec = (pod as unknown as { spec: { containers: Array<{ args: string[]; env: EnvVar[] }> } }).spec.containers[0]!;
    // SETTLE_MS=0: the script runs from no pod here, so the proxy never learns its address; on a node
    // it waits for the proxy's watch (test/integration/node/chart-on-node.test.ts runs it there).
    const env = { ...resolveEnv(spec.env, { 'status.hostIP': NODE_IP }), METADATA_ENDPOINT: metadataEndpoint, SETTLE_MS: '0' };
    return new Promise((resolve) => {
      // The test pod runs the proxy image too: its ENTRYPOINT, the image's Node, with the pod's args.
      execFile(image!.node, spec.args, { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, output: stdout + stderr });
      });
    });
  }

  it('passes the helm test pod\'s check when the metadata endpoint is the proxy', async () => {
    const port = container.ports.find((p) => p.name === 'metadata')!.containerPort;
    const r = await runHelmTestScript(`http://${NODE_IP}:${port}`);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /ok: the proxy answers/);
  });

  it('fails the helm test pod\'s check when the metadata endpoint is the real IMDS (rule missing)', async () => {
    const r = await runHelmTestScript(imds.endpoint);
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /did not answer as the proxy did: pods reach the real IMDS/);
  });

  it('exits 0 on SIGTERM, as the kubelet stops it', async () => {
    const exited = new Promise<number | null>((resolve) => proxy!.once('exit', (code) => resolve(code)));
    proxy!.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  });
});
