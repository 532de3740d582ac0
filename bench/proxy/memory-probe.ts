// `npm run bench:proxy-memory [-- --namespaces N] [-- --pods P] [-- --flags "--max-opt=2"]`: where
// the shipped proxy's resident memory goes with N namespaces in the cluster (default 10,000) and P
// pods on its node (default 0; Running, in the first 100 namespaces, each with its own role). A real
// kube-apiserver, moto and the metadata mock (test/peers); dist/proxy/main.cjs (`npm run build`)
// run by the shipped Node with the image's node flags and environment (proxy/Dockerfile), the
// chart's NODE_OPTIONS and a JSON kubeconfig (no YAML parser, as in a pod); then RSS, V8's heap
// figures from its own /metrics, and /proc/<pid>/smaps grouped by mapping (the node binary's
// pages, anonymous memory, the C heap) at 5, 10 and 30 s after start, and with pods 30 s after they
// are all Running.
// Bounded: every step has a deadline; the proxy and the peers are stopped at the end, also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startPeers, type Peers } from '../../test/peers/index.ts';
import { managedRoleArn } from '../../core/src/naming.ts';
import { memoryOf } from './procs.ts';
import { SHIPPED_NODE as node24, chartEnv, imageRuntime } from './shipped-runtime.ts';
import { KubeApi, inParallel, jsonKubeconfig, nodePodIp } from './kube-api.ts';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const NAMESPACES = Number(arg('--namespaces') ?? 10_000);
const PODS = Number(arg('--pods') ?? 0);
const POD_NAMESPACES = Math.min(100, NAMESPACES);
const FLAGS = (arg('--flags') ?? '').split(' ').filter(Boolean);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function smapsByMapping(pid: number): Array<[string, number]> {
  const by = new Map<string, number>();
  let mapping = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line.split(/\s+/).slice(5).join(' ') || '[anon]';
    const m = /^Rss:\s+(\d+)/.exec(line);
    if (m) by.set(mapping, (by.get(mapping) ?? 0) + Number(m[1]) / 1024);
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'podiam-memory-probe-'));
  let peers: Peers | undefined;
  let proc: ChildProcess | undefined;
  try {
    peers = await startPeers({ kube: true, moto: true, imds: { role: { name: 'node-role' } } });
    const kube = new KubeApi(peers.kube!);
    const started = performance.now();
    await inParallel(Array.from({ length: NAMESPACES }, (_, i) => `ns-${i}`), 32, (ns) => kube.createNamespace(ns));
    console.error(`[probe] ${NAMESPACES} namespaces created in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await peers.moto!.createRoles(Array.from({ length: POD_NAMESPACES }, (_, i) => managedRoleArn({ accountId: '123456789012' }, { cluster: 'probe', namespace: `ns-${i}`, service: 'reader' })));
    const kubeconfig = jsonKubeconfig(peers.kube!, work);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const image = imageRuntime();
    // The chart's NODE_OPTIONS (its defaults), as helm renders them for the DaemonSet.
    const NODE_OPTIONS = chartEnv('probe').NODE_OPTIONS ?? '';
    const env = {
      ...image.env,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PODIAM_CLUSTER_NAME: 'probe',
      PODIAM_NODE_NAME: 'probe-node',
      PODIAM_LISTEN_ADDRESS: '127.0.0.1',
      PODIAM_PORT: String(port),
      PODIAM_METRICS_PORT: String(metricsPort),
      PODIAM_IPTABLES: 'false',
      PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
      PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
      PODIAM_AWS_REGION: 'us-east-1',
      PODIAM_ACCOUNT_ID: '123456789012',
      PODIAM_KUBECONFIG: kubeconfig,
      NODE_OPTIONS,
      // --env K=V (repeatable): an environment variable to try, e.g. MALLOC_ARENA_MAX=2.
      ...Object.fromEntries(process.argv.flatMap((a, i) => (a === '--env' ? [process.argv[i + 1]!.split(/=(.*)/s).slice(0, 2)] : []))),
    };
    // --stdout FILE keeps the proxy's log lines (and what flags like --trace-gc print) in FILE.
    const stdout = arg('--stdout') ? openSync(arg('--stdout')!, 'w') : 'ignore';
    proc = spawn(node24, [...image.nodeFlags, ...FLAGS, 'dist/proxy/main.cjs'], { env, stdio: ['ignore', stdout, 'inherit'] });
    const pid = proc.pid!;
    const metricValue = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      return Number(new RegExp(`^podiam_proxy_${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    };
    /** A byte figure of the proxy's /metrics, in MiB. */
    const metric = async (name: string): Promise<number> => (await metricValue(name)) / 1024 / 1024;
    console.log(`## Proxy memory with ${NAMESPACES} namespaces (the image's node flags ${image.nodeFlags.join(' ') || 'none'} and env ${Object.entries(image.env).map(([k, v]) => `${k}=${v}`).join(' ')}; extra flags: ${FLAGS.join(' ') || 'none'}; extra env: ${process.argv.flatMap((a, i) => (a === '--env' ? [process.argv[i + 1]] : [])).join(' ') || 'none'}; NODE_OPTIONS ${NODE_OPTIONS})\n`);
    let elapsed = 0;
    for (const at of [5, 10, 30]) {
      await sleep((at - elapsed) * 1000);
      elapsed = at;
      const rss = memoryOf(pid).rss / 1024 / 1024;
      console.log(`- t=${at} s: RSS ${rss.toFixed(1)} MiB; V8 heap total ${(await metric('nodejs_heap_size_total_bytes')).toFixed(1)}, used ${(await metric('nodejs_heap_size_used_bytes')).toFixed(1)}, external ${(await metric('nodejs_external_memory_bytes')).toFixed(1)} MiB`);
    }
    if (PODS > 0) {
      const t0 = performance.now();
      await inParallel(Array.from({ length: PODS }, (_, i) => i), 32, async (i) => void (await kube.createPod(`ns-${i % POD_NAMESPACES}`, `app-${i}`, 'probe-node', 'reader')));
      await inParallel(Array.from({ length: PODS }, (_, i) => i), 64, async (i) => void (await kube.patchPodRunning(`ns-${i % POD_NAMESPACES}`, `app-${i}`, nodePodIp(i))));
      console.error(`[probe] ${PODS} pods Running in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await sleep(30_000);
      const rss = memoryOf(pid).rss / 1024 / 1024;
      console.log(`- ${PODS} pods, 30 s after Running: RSS ${rss.toFixed(1)} MiB; AssumeRole calls ${await metricValue('sts_assume_role_calls_total')}; V8 heap total ${(await metric('nodejs_heap_size_total_bytes')).toFixed(1)}, used ${(await metric('nodejs_heap_size_used_bytes')).toFixed(1)}, external ${(await metric('nodejs_external_memory_bytes')).toFixed(1)} MiB`);
    }
    // With --flags --heapsnapshot-signal=SIGUSR2: a heap snapshot in the working directory, last.
    if (FLAGS.some((f) => f.startsWith('--heapsnapshot-signal'))) {
      process.kill(pid, 'SIGUSR2');
      await sleep(15_000);
    }
    console.log('\n| mapping | RSS MiB |\n| --- | --- |');
    for (const [mapping, mib] of smapsByMapping(pid).slice(0, 6)) console.log(`| ${mapping} | ${mib.toFixed(1)} |`);
  } finally {
    proc?.kill('SIGKILL');
    await peers?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
