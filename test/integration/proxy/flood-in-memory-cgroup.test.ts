// Security regression (issue 11, item 2): 20 connections x 2,000 pipelined GETs, repeated, grew the
// proxy's RSS past the chart's 256 MiB limit and the kernel killed it; with its DNAT rule left in
// place, every pod on the node got connection refused until the restart.
//
// The shipped bundle runs under the shipped Node (24, as in the image) as a process inside a real
// memory cgroup (v1) of the chart's default limit, with NODE_OPTIONS exactly as the chart renders them (read from `helm template`, so this
// test follows the chart). A pod floods it from its own process; meanwhile another pod fetches its
// credentials again and again with the AWS SDK v3's own IMDS provider and 1 s timeout: the SDK is
// the judge of "in time". Peers: kube-apiserver (the pods), moto (STS), the metadata mock (node).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { CoreV1Api } from '@kubernetes/client-node';
import { fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { proxyBundleOptions } from '../../../scripts/esbuild-options.mjs';
import { freePort, startPeers, type Peers } from '../../peers/index.ts';
import { shippedNode } from '../../peers/shipped-node.ts';
import { find, render } from '../../unit/chart/chart.ts';
import { call, TEST_ROLE_ARNS } from './helpers.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const MEMORY_CGROUPS = '/sys/fs/cgroup/memory';
const canUseMemoryCgroup = process.getuid?.() === 0 && existsSync(path.join(MEMORY_CGROUPS, 'cgroup.procs'));
const NODE_KEY = 'ASIANODEROLEFLOOD001';
const CREDS = '/latest/meta-data/iam/security-credentials/';
// The attack of the issue: 20 sockets x 2,000 pipelined GETs, 5 rounds of 4 s (bounded: 20 s).
const FLOOD = { connections: 20, depth: 2000, rounds: 5, roundMs: 4000 };
// The legitimate pod asks every 250 ms while the flood lasts, at most this often.
const MAX_FETCHES = 80;

/** The proxy container's NODE_OPTIONS and memory limit as the chart renders them by default. */
async function chartDefaults(): Promise<{ nodeOptions: string; limitBytes: number }> {
  const ds = find(await render({ clusterName: 'test' }), 'DaemonSet') as unknown as {
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }>; resources: { limits: { memory: string } } }> } } };
  };
  const container = ds.spec.template.spec.containers[0]!;
  const nodeOptions = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  const m = /^(\d+)Mi$/.exec(container.resources.limits.memory);
  if (!m) throw new Error(`this test reads a limit in Mi; the chart renders ${container.resources.limits.memory}`);
  return { nodeOptions, limitBytes: Number(m[1]) * 1024 * 1024 };
}

function cgroupValue(dir: string, file: string): string {
  return readFileSync(path.join(dir, file), 'utf8').trim();
}

describe('the shipped proxy in a memory cgroup of the chart\'s size, flooded with pipelined requests', { skip: canUseMemoryCgroup ? false : 'needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-flood-'));
  const bundle = path.join(dir, 'main.cjs');
  const cgroup = path.join(MEMORY_CGROUPS, `podiam-flood-${process.pid}`);
  let peers: Peers;
  let proc: ChildProcess | undefined;
  let flooder: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let metricsPort = 0;
  let chart: { nodeOptions: string; limitBytes: number };
  let output = '';

  before(async () => {
    chart = await chartDefaults();
    await build({ entryPoints: [path.join(repo, 'proxy/src/main.ts')], outfile: bundle, ...proxyBundleOptions });
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role', credentials: { AccessKeyId: NODE_KEY } } }, kube: true });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    const api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
    // The legitimate pod is 127.0.0.1 (the SDK cannot pick a source address); the attacker 127.0.0.2.
    for (const [name, role, ip] of [['legit', 'reader', '127.0.0.1'], ['flooder', 'writer', '127.0.0.2']] as const) {
      await api.createNamespacedPod({ namespace: 'orders', body: { metadata: { name, namespace: 'orders', annotations: { 'iam.amazonaws.com/role': role } }, spec: { nodeName: 'node-flood', containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } });
      await api.patchNamespacedPodStatus({ name, namespace: 'orders', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }] });
    }

    mkdirSync(cgroup);
    writeFileSync(path.join(cgroup, 'memory.limit_in_bytes'), String(chart.limitBytes));
    port = await freePort();
    metricsPort = await freePort();
    // The shell joins the cgroup and then becomes node (exec), so every byte the proxy ever
    // allocates is charged to the cgroup, from its first instruction on.
    proc = spawn('/bin/sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec "$2" "$3" --port "$4" --metrics-port "$5"', 'sh', cgroup, shippedNode(), bundle, String(port), String(metricsPort)], {
      env: {
        PATH: process.env.PATH,
        NODE_OPTIONS: chart.nodeOptions,
        PODIAM_CLUSTER_NAME: 'test',
        NODE_NAME: 'node-flood',
        PODIAM_IPTABLES: 'false',
        PODIAM_LISTEN_ADDRESS: '127.0.0.1',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
        PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
        PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
        PODIAM_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => proc!.once('exit', () => resolve()));
    // The proxy's last words, for the assertion messages (e.g. V8's heap-limit abort).
    for (const stream of [proc.stdout!, proc.stderr!]) stream.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    await waitForReady(metricsPort);
  });

  after(async () => {
    if (flooder && flooder.exitCode === null) flooder.kill('SIGKILL');
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    // The cgroup is empty once the proxy has exited; only then can it be removed.
    if (existsSync(cgroup)) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(cgroup);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    await peers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays alive and answers the other pod within the SDK\'s 1 s budget (at most 5 % of fetches may miss it on a loaded machine)', async () => {
    // Prepare: both pods indexed, and the attacker holds a token as any pod can.
    const token = (await call(port, '/latest/api/token', { method: 'PUT', from: '127.0.0.2', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '600' } })).body;
    const attackerPath = `${CREDS}test.orders.writer`;
    const v2 = { from: '127.0.0.2', headers: { 'x-aws-ec2-metadata-token': token } };
    let attackerCreds = await call(port, attackerPath, v2);
    for (let i = 0; i < 100 && attackerCreds.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      attackerCreds = await call(port, attackerPath, v2);
    }
    assert.equal(attackerCreds.status, 200, `the attacking pod is indexed: ${attackerCreds.body}`);
    const attackerKey = (JSON.parse(attackerCreds.body) as { AccessKeyId: string }).AccessKeyId;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://127.0.0.1:${port}`;
    const sdkFetch = async (): Promise<{ ok: true; key: string; ms: number } | { ok: false; error: string; ms: number }> => {
      const started = performance.now();
      try {
        // A new provider each time: the SDK's static stability would hand back the last
        // credentials after a failure, and hide it.
        const creds = await fromInstanceMetadata({ timeout: 1000, maxRetries: 0, ec2MetadataV1Disabled: true })();
        return { ok: true, key: creds.accessKeyId, ms: performance.now() - started };
      } catch (err) {
        return { ok: false, error: String(err), ms: performance.now() - started };
      }
    };
    const first = await sdkFetch();
    assert.equal(first.ok, true, `the legitimate pod is served before the flood: ${JSON.stringify(first)}`);
    const legitKey = first.ok ? first.key : '';

    // Act: the flood from its own process, the legitimate pod's fetches while it lasts.
    flooder = spawn(process.execPath, [path.join(import.meta.dirname, 'pipelining-flooder.mjs'), String(port), '127.0.0.2', token, attackerPath, String(FLOOD.rounds), String(FLOOD.connections), String(FLOOD.depth), String(FLOOD.roundMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let flooderOut = '';
    flooder.stdout!.on('data', (d: Buffer) => (flooderOut += d.toString()));
    const flooderDone = new Promise<number | null>((resolve) => flooder!.once('exit', resolve));
    let flooding = true;
    void flooderDone.then(() => (flooding = false));
    const fetches: Awaited<ReturnType<typeof sdkFetch>>[] = [];
    for (let i = 0; i < MAX_FETCHES && flooding; i++) {
      fetches.push(await sdkFetch());
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await flooderDone, 0, 'the flooder ran to its end');

    // Assess: alive, never over the cgroup's limit to the point of an OOM kill, every fetch in time.
    const stats = JSON.parse(flooderOut.trim()) as Record<string, number>;
    const oom = cgroupValue(cgroup, 'memory.oom_control');
    const peakBytes = Number(cgroupValue(cgroup, 'memory.max_usage_in_bytes'));
    const latencies = fetches.map((f) => Math.round(f.ms)).sort((a, b) => a - b);
    const refused = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => 'metrics unreachable');
    console.log(JSON.stringify({
      nodeOptions: chart.nodeOptions,
      limitMiB: chart.limitBytes / 1048576,
      peakMiB: Math.round(peakBytes / 1048576),
      failcnt: Number(cgroupValue(cgroup, 'memory.failcnt')),
      oom: oom.replace(/\n/g, ' '),
      flooder: stats,
      fetches: fetches.length,
      failed: fetches.filter((f) => !f.ok).length,
      sdkMs: { min: latencies[0], median: latencies[Math.floor(latencies.length / 2)], p90: latencies[Math.floor(latencies.length * 0.9)], max: latencies.at(-1), over500: latencies.filter((ms) => ms > 500).length },
      refusals: refused.split('\n').filter((l) => l.startsWith('podiam_proxy_connections_refused_total')),
      proxy: refused.split('\n').filter((l) => /^\w*(eventloop_lag_max_seconds|eventloop_lag_p99_seconds|gc_duration_seconds_sum|process_cpu_seconds_total|resident_memory_bytes)[ {]/.test(l)),
    }));
    assert.equal(proc!.exitCode, null, `the proxy process has not exited; its output: ${output}`);
    assert.equal(proc!.signalCode, null, `the proxy process was not killed; its output: ${output}`);
    assert.match(oom, /oom_kill 0/, 'the kernel killed nothing in the proxy\'s cgroup');
    assert.ok(fetches.length >= 20, `the legitimate pod fetched ${fetches.length} times during the flood`);
    // Tolerance: this machine has 2 cores shared with the peers, the flooder and other test runs;
    // with the caps, 0 to 2 of about 65 fetches ran past 1 s at a load average near 10 (the
    // proxy's own event loop then showed lags up to 1.6 s: the whole machine was starved). Without
    // the caps and the heap limit, 3 of 23 failed and the median fetch took 0.7 s.
    const failures = fetches.filter((f) => !f.ok);
    assert.ok(failures.length <= fetches.length * 0.05, `${failures.length} of ${fetches.length} fetches of the legitimate pod failed within the SDK's 1 s timeout: ${JSON.stringify(failures.slice(0, 3))}`);
    for (const f of fetches) if (f.ok) assert.equal(f.key, legitKey, 'the legitimate pod got its own credentials');
    assert.notEqual(legitKey, attackerKey);
    assert.notEqual(legitKey, NODE_KEY);
  });
});

async function waitForReady(metricsPort: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const status = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the proxy did not become ready within 30 s');
}
