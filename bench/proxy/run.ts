// `npm run bench:proxy [-- --quick] [-- --no-build]`: the proxy as it ships, measured from outside,
// against a bare node:http server answering the same bytes. Prints a Markdown section for
// docs/benchmarks.md and writes every raw figure to a JSON file. docs/benchmarks.md says how each
// figure is taken; in short:
//  - the target is dist/proxy/main.cjs (`npm run build`) run by the shipped Node (24) with the
//    environment the Helm chart gives the DaemonSet, its real watches on a real kube-apiserver,
//    moto as STS, the metadata mock as the node's IMDS; pods are real Pod objects on this node;
//  - the servers run on core 0, wrk / the fixed-rate generator / this process / the peers on core 1;
//  - server CPU per answer = the server's utime+stime (/proc/<pid>/stat) over wrk's answers;
//  - rounds alternate proxy and bare; every figure is a median with its range.
// Bounded: every wait has a deadline; every process started here is stopped at the end.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { proxyBundleOptions } from '../../scripts/esbuild-options.mjs';
import { freePort, startPeers, type Peers } from '../../test/peers/index.ts';
import { managedRoleArn, managedRoleName } from '../../core/src/naming.ts';
import { SHIPPED_NODE as node24, chartEnv, imageRuntime } from './shipped-runtime.ts';
import { profileCategories } from './profile-summary.ts';
import { KubeApi, inParallel, jsonKubeconfig, nodePodIp } from './kube-api.ts';
import { call, fixedRate, rawExchange, saturate, type FixedRateRound, type SaturationRound } from './load.ts';
import { OTHER_CORE, SERVER_CORE, descendants, killAllPinned, loadavg, memoryOf, pin, priority, startPinned, type Pinned } from './procs.ts';
import { median, quantile, spread } from './stats.ts';
import { StsCounter } from './sts-counter.ts';
import { TOKEN_DOOR_PATH, firstAndCached, mintTokens, oneAtATime, tokenHeader, type FirstAndCachedRound, type TokenPod } from './token-path.ts';

const QUICK = process.argv.includes('--quick');
const NO_BUILD = process.argv.includes('--no-build');
// --nice: servers, wrk and this process (the fixed-rate generator) at nice -10, so that other work
// on a shared machine does not take their cores; the peers stay at 0. The busy column checks it.
const NICE = process.argv.includes('--nice') ? -10 : 0;
/** `--profile`: also CPU profiles of a fresh proxy and bare server at saturation (a table of where the CPU goes). */
const PROFILE = process.argv.includes('--profile');
const C = QUICK
  ? { rounds: 2, seconds: 2, rateRounds: 2, rateSeconds: 2, firstPods: 8, namespaces: 300, nodePods: 100, podNamespaces: 20, idleStarts: 1, node20Rounds: 0, steadyWaitMs: 3000, tokenRounds: 2, tokensPerRound: 150 }
  : { rounds: 7, seconds: 5, rateRounds: 7, rateSeconds: 5, firstPods: 30, namespaces: 10_000, nodePods: 1000, podNamespaces: 100, idleStarts: 3, node20Rounds: 3, steadyWaitMs: 10_000, tokenRounds: 5, tokensPerRound: 1000 };
// The token path (issue 15): tokens the proxy has seen once before the timed rounds (warm-up).
const TOKEN_WARMUP = 30;
const TOKEN_AUDIENCE = 'podiam';
const TOKEN_SERVICE_ACCOUNT = 'reader';
const CONNECTIONS = 32; // below the proxy's 64 connections per source IP: no refusals
const RATE = 1000;
const FIRST_CREDENTIAL_GAPS_MS = [0, 1000];
const CLUSTER = 'bench';
const NODE = 'bench-node';
const ACCOUNT = '123456789012';
const CREDS = '/latest/meta-data/iam/security-credentials/';
const repo = process.cwd();
const work = mkdtempSync(path.join(tmpdir(), 'podiam-bench-proxy-'));
const log = (msg: string): void => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number): number => bytes / 1024 / 1024;

function roleName(namespace: string): string {
  return managedRoleName({ cluster: CLUSTER, namespace, service: 'reader' });
}

interface Server {
  proc: Pinned;
  port: number;
  metricsPort?: number;
  /** The token door's port (PODIAM_TOKEN_IDENTITY=true). */
  tokenPort?: number;
  label: string;
}

async function waitUntil(what: string, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not within ${deadlineMs} ms`);
}

let shippedEnv: Record<string, string> = {};
const image = imageRuntime();
/** The chart's environment with tokenIdentity.enabled=true (its other defaults unchanged). */
let tokenEnv: Record<string, string> = {};
let peers: Peers | undefined;
let kubeApi: KubeApi | undefined;
let stsCounter: StsCounter | undefined;

async function startProxy(nodeBin: string, stsEndpoint: string, label: string, withTokenDoor = false, extraFlags: string[] = []): Promise<Server> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const tokenPort = withTokenDoor ? await freePort() : undefined;
  const env: Record<string, string> = {
    ...(withTokenDoor ? { ...tokenEnv, PODIAM_TOKEN_PORT: String(tokenPort) } : shippedEnv),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PODIAM_NODE_NAME: NODE,
    PODIAM_LISTEN_ADDRESS: '127.0.0.1',
    PODIAM_PORT: String(port),
    PODIAM_METRICS_PORT: String(metricsPort),
    PODIAM_IPTABLES: 'false',
    PODIAM_IMDS_UPSTREAM: peers!.imds!.endpoint,
    PODIAM_STS_ENDPOINT: stsEndpoint,
    PODIAM_AWS_REGION: 'us-east-1',
    PODIAM_ACCOUNT_ID: ACCOUNT,
    PODIAM_KUBECONFIG: jsonKubeconfig(peers!.kube!, work),
  };
  // The DaemonSet name makes the proxy read its DaemonSet on shutdown to decide on iptables rules: none here.
  delete env.PODIAM_DAEMONSET_NAME;
  delete env.PODIAM_NAMESPACE;
  // The image's node flags and environment (proxy/Dockerfile), under the chart's (as in a pod). The
  // flags are for the image's Node 24: Node 20 (not shipped, compared only) lacks --memory-saver-mode.
  const flags = [...(nodeBin === node24 ? image.nodeFlags : []), ...extraFlags];
  const proc = startPinned(SERVER_CORE, nodeBin, [...flags, path.join(repo, 'dist/proxy/main.cjs')], { ...image.env, ...env }, path.join(work, `${label}.log`));
  await waitUntil(`${label} ready`, 60_000, async () => {
    if (proc.child.exitCode !== null) throw new Error(`${label} exited ${proc.child.exitCode}; see ${work}/${label}.log`);
    return (await call(metricsPort, '127.0.0.1', 'GET', '/readyz')).status === 200;
  });
  return { proc, port, metricsPort, tokenPort, label };
}

async function startBare(nodeBin: string, bundle: string, reply: string, label: string, extraFlags: string[] = []): Promise<Server> {
  const port = await freePort();
  const proc = startPinned(SERVER_CORE, nodeBin, [...extraFlags, bundle, String(port)], { PATH: process.env.PATH ?? '', BENCH_REPLY: reply }, path.join(work, `${label}.log`));
  await waitUntil(`${label} listening`, 20_000, async () => (await call(port, '127.0.0.1', 'GET', '/')).status === 200);
  return { proc, port, label };
}

async function tokenFor(port: number, ip: string): Promise<string> {
  const r = await call(port, ip, 'PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' });
  if (r.status !== 200) throw new Error(`token PUT from ${ip} answered ${r.status}: ${r.body}`);
  return r.body;
}

/** Asks until the first 200 (bounded): the credential path, from the pod's own address. */
async function until200(port: number, ip: string, token: string, role: string, maxMs: number): Promise<{ ok: boolean; attempts: number; statuses: number[] }> {
  const end = performance.now() + maxMs;
  const statuses: number[] = [];
  for (let a = 1; a <= 500 && performance.now() < end; a++) {
    const r = await call(port, ip, 'GET', `${CREDS}${role}`, { 'x-aws-ec2-metadata-token': token }).catch(() => ({ status: 0, body: '' }));
    statuses.push(r.status);
    if (r.status === 200) return { ok: true, attempts: a, statuses };
    await sleep(5);
  }
  return { ok: false, attempts: statuses.length, statuses };
}

interface NodeScale {
  label: string;
  assumeRole: number;
  perPod: number;
  podsAskedTwice: number;
  abandoned: number;
  failed: number;
  maxInFlight: number;
  settleSeconds: number;
  settled: boolean;
  /** Pods (role sessions) prefetch fetched before it settled or gave up. */
  podsFetched: number;
  /** AssumeRole calls after every pod also asked once (token, credentials): prefetch and asks together. */
  assumeRoleAfterAsking: number;
  rssSteadyMb: number;
  rssSteadyRangeMb: [number, number];
  peakMb: number;
  answered200: number;
}

async function nodeScale(label: string, server: Server, sts: StsCounter, t0: number): Promise<Omit<NodeScale, 'label' | 'answered200' | 'assumeRoleAfterAsking'>> {
  const settled = await sts.settled(C.nodePods, 3000, 240_000);
  const settleSeconds = (performance.now() - t0) / 1000;
  // Steady state without forcing anything: sample VmRSS while the process sits idle.
  const samples: number[] = [];
  for (let waited = 0; waited < C.steadyWaitMs; waited += 500) {
    await sleep(500);
    samples.push(mb(memoryOf(server.proc.pid).rss));
  }
  const { rss, hwm } = memoryOf(server.proc.pid);
  const c = sts.counts;
  return {
    assumeRole: c.assumeRole, perPod: c.assumeRole / C.nodePods, podsAskedTwice: [...c.perSession.values()].filter((n) => n > 1).length,
    abandoned: c.abandoned, failed: c.failed, maxInFlight: c.maxInFlight, settleSeconds, settled, podsFetched: c.perSession.size,
    rssSteadyMb: mb(rss), rssSteadyRangeMb: [Math.min(...samples), Math.max(...samples)], peakMb: mb(hwm),
  };
}

/** Every node pod asks once (token, then credentials) from its own address; how many got a 200. */
async function everyPodAnswered(port: number): Promise<number> {
  let ok = 0;
  await inParallel(Array.from({ length: C.nodePods }, (_, i) => i), 8, async (i) => {
    const ip = nodePodIp(i);
    const token = await tokenFor(port, ip);
    const r = await call(port, ip, 'GET', `${CREDS}${roleName(`ns-${i % C.podNamespaces}`)}`, { 'x-aws-ec2-metadata-token': token });
    if (r.status === 200) ok++;
  });
  return ok;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = loadavg();
  if (!existsSync(node24)) throw new Error(`${node24} is missing: run bash scripts/peers/install-node-runtime.sh`);
  // This process (and the peers, below) on the generator core: core 0 is the server's alone.
  pin(process.pid, OTHER_CORE);
  priority.nice = NICE;
  if (!NO_BUILD) {
    log('npm run build');
    execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // The same bundle options as the proxy (CommonJS): both pay the same module loader.
  const bareBundle = path.join(work, 'bare-server.cjs');
  await build({ entryPoints: [path.join(repo, 'bench/proxy/bare-server.ts')], outfile: bareBundle, ...proxyBundleOptions });
  shippedEnv = chartEnv(CLUSTER);
  tokenEnv = chartEnv(CLUSTER, ['tokenIdentity.enabled=true']);
  const node24Version = execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim();
  // What was measured: the commit, and whether the proxy's sources differed from it (work in progress).
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'proxy', 'core', 'chart'], { encoding: 'utf8' }).split('\n').filter(Boolean);

  log('starting moto, the metadata mock and kube-apiserver');
  // RSA signing key: tokens are RS256, as kubeadm's and EKS's issuers sign them (the peer's default is ES256).
  peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: { serviceAccountKey: 'rsa' } });
  for (const pid of descendants(process.pid)) pin(pid, OTHER_CORE);
  // After the peers started (they inherit it otherwise): the generator's main thread only.
  if (NICE) execFileSync('renice', ['-n', String(NICE), '-p', String(process.pid)], { stdio: 'ignore' });
  const kube = (kubeApi = new KubeApi(peers.kube!));
  const sts = (stsCounter = new StsCounter(peers.moto!.endpoint));
  const stsRelay = await sts.start();
  const podNamespaces = Array.from({ length: C.podNamespaces }, (_, i) => `ns-${i}`);
  await peers.moto!.createRoles(['bench', 'bench-fc', ...podNamespaces].map((ns) => managedRoleArn({ accountId: ACCOUNT }, { cluster: CLUSTER, namespace: ns, service: 'reader' })));
  await kube.createNamespace('bench');
  await kube.createNamespace('bench-fc');
  // The pod the load comes from: wrk and the fixed-rate generator connect from 127.0.0.1. Its
  // service account lets the TokenRequest API bind the token path's tokens to it.
  await kube.createServiceAccount('bench', TOKEN_SERVICE_ACCOUNT);
  const loadPodUid = await kube.createPod('bench', 'load', NODE, 'reader', TOKEN_SERVICE_ACCOUNT);
  await kube.patchPodRunning('bench', 'load', '127.0.0.1');
  const loadPath = `${CREDS}${roleName('bench')}`;

  const result: Record<string, unknown> = { startedAt: startedAt.toISOString(), quick: QUICK, nice: NICE, loadBefore, node24: node24Version, node20Version: process.version, commit, dirty, shippedEnv, image, config: C };

  // 1. Idle RSS: fresh processes, nothing asked of them.
  log(`idle RSS, ${C.idleStarts} fresh start(s) each`);
  const idleProxy: number[] = [];
  const idleBare: number[] = [];
  for (let i = 0; i < C.idleStarts; i++) {
    const p = await startProxy(node24, peers.moto!.endpoint, `idle-proxy-${i}`);
    await sleep(5000);
    idleProxy.push(mb(memoryOf(p.proc.pid).rss));
    await p.proc.stop();
    const b = await startBare(node24, bareBundle, Buffer.from(JSON.stringify({ status: 200, headers: [], body: '', keepAliveTimeoutMs: 5000, maxRequestsPerSocket: 0 })).toString('base64'), `idle-bare-${i}`);
    await sleep(5000);
    idleBare.push(mb(memoryOf(b.proc.pid).rss));
    await b.proc.stop();
  }
  result.idle = { proxyMb: idleProxy, bareMb: idleBare };

  // 2. CPU per cached answer at saturation, and p99 at a fixed rate: proxy vs bare, alternating.
  const proxy = await startProxy(node24, peers.moto!.endpoint, 'proxy');
  const token = await tokenFor(proxy.port, '127.0.0.1');
  const first = await until200(proxy.port, '127.0.0.1', token, roleName('bench'), 10_000);
  if (!first.ok) throw new Error(`the load pod got no credentials: ${first.statuses.join(',')}`);
  const wrkRequest = (port: number): string => `GET ${loadPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-aws-ec2-metadata-token: ${token}\r\n\r\n`;
  const proxyAnswer = await rawExchange(proxy.port, wrkRequest(proxy.port));
  if (proxyAnswer.status !== 200) throw new Error(`captured answer is ${proxyAnswer.status}`);
  // node:http writes Date, Connection and Keep-Alive for both servers; the rest is replayed as sent.
  const own = new Set(['date', 'connection', 'keep-alive']);
  const keepAlive = proxyAnswer.headers.find(([n]) => n.toLowerCase() === 'keep-alive')?.[1] ?? '';
  const replay = {
    status: 200,
    headers: proxyAnswer.headers.filter(([n]) => !own.has(n.toLowerCase())),
    body: proxyAnswer.body.toString('base64'),
    keepAliveTimeoutMs: Number(/timeout=(\d+)/.exec(keepAlive)?.[1] ?? 5) * 1000,
    maxRequestsPerSocket: Number(/max=(\d+)/.exec(keepAlive)?.[1] ?? 0),
  };
  const replayB64 = Buffer.from(JSON.stringify(replay)).toString('base64');
  const bare = await startBare(node24, bareBundle, replayB64, 'bare');
  const bareAnswer = await rawExchange(bare.port, wrkRequest(bare.port));
  const names = (a: typeof proxyAnswer): string => a.headers.map(([n]) => n.toLowerCase()).join(',');
  const sameBytes = { proxy: { headerBytes: proxyAnswer.headerBytes, bodyBytes: proxyAnswer.body.length, headers: names(proxyAnswer) }, bare: { headerBytes: bareAnswer.headerBytes, bodyBytes: bareAnswer.body.length, headers: names(bareAnswer) } };
  if (sameBytes.proxy.headerBytes !== sameBytes.bare.headerBytes || sameBytes.proxy.bodyBytes !== sameBytes.bare.bodyBytes || sameBytes.proxy.headers !== sameBytes.bare.headers) {
    throw new Error(`the bare server's answer differs from the proxy's: ${JSON.stringify(sameBytes)}`);
  }
  result.answer = sameBytes;
  const headers = { 'x-aws-ec2-metadata-token': token };
  const url = (s: Server): string => `http://127.0.0.1:${s.port}${loadPath}`;

  log('warm-up');
  await saturate(proxy.proc.pid, url(proxy), headers, 2, CONNECTIONS);
  await saturate(bare.proc.pid, url(bare), headers, 2, CONNECTIONS);

  const sat: Array<{ proxy: SaturationRound; bare: SaturationRound; load: string }> = [];
  for (let r = 0; r < C.rounds; r++) {
    log(`saturation round ${r + 1}/${C.rounds}`);
    // Alternate which goes first, so neither always follows the other.
    const order = r % 2 === 0 ? (['proxy', 'bare'] as const) : (['bare', 'proxy'] as const);
    const round: Partial<{ proxy: SaturationRound; bare: SaturationRound }> = {};
    for (const who of order) {
      const s = who === 'proxy' ? proxy : bare;
      round[who] = await saturate(s.proc.pid, url(s), headers, C.seconds, CONNECTIONS);
    }
    sat.push({ proxy: round.proxy!, bare: round.bare!, load: loadavg() });
  }
  result.saturation = sat;

  const rate: Array<{ proxy: FixedRateRound; bare: FixedRateRound }> = [];
  for (let r = 0; r < C.rateRounds; r++) {
    log(`fixed-rate round ${r + 1}/${C.rateRounds}`);
    const order = r % 2 === 0 ? (['proxy', 'bare'] as const) : (['bare', 'proxy'] as const);
    const round: Partial<{ proxy: FixedRateRound; bare: FixedRateRound }> = {};
    for (const who of order) round[who] = await fixedRate((who === 'proxy' ? proxy : bare).port, loadPath, headers, RATE, C.rateSeconds);
    rate.push({ proxy: round.proxy!, bare: round.bare! });
  }
  if (PROFILE) {
    // Fresh processes under the profiler, so its cost stays out of every figure above. Each profile
    // covers its process's whole life: start, wrk for 2 + C.seconds s, stop.
    log('CPU profiles at saturation (--profile)');
    const profiles = path.join(work, 'profiles');
    const pp = await startProxy(node24, peers.moto!.endpoint, 'proxy-profiled', false, ['--cpu-prof', `--cpu-prof-dir=${path.join(profiles, 'proxy')}`]);
    const bp = await startBare(node24, bareBundle, replayB64, 'bare-profiled', ['--cpu-prof', `--cpu-prof-dir=${path.join(profiles, 'bare')}`]);
    const profiledHeaders = { 'x-aws-ec2-metadata-token': await tokenFor(pp.port, '127.0.0.1') };
    const answers = {
      proxy: (await saturate(pp.proc.pid, url(pp), profiledHeaders, C.seconds + 2, CONNECTIONS)).answers,
      bare: (await saturate(bp.proc.pid, url(bp), headers, C.seconds + 2, CONNECTIONS)).answers,
    };
    await pp.proc.stop();
    await bp.proc.stop();
    const proxyProfile = profileCategories(path.join(profiles, 'proxy'), 'main.cjs');
    const bareProfile = profileCategories(path.join(profiles, 'bare'), path.basename(bareBundle));
    const perAnswer = (m: Map<string, number>, n: number): Record<string, number> => Object.fromEntries([...m].map(([k, v]) => [k, v / n]));
    result.profile = {
      answers,
      proxy: { busy: proxyProfile.busyMicros / answers.proxy, byCategory: perAnswer(proxyProfile.byCategory, answers.proxy) },
      bare: { busy: bareProfile.busyMicros / answers.bare, byCategory: perAnswer(bareProfile.byCategory, answers.bare) },
    };
  }

  const rateSummary = rate.map((r) => ({
    proxy: { p50: quantile(r.proxy.fromDue, 0.5), p99: quantile(r.proxy.fromDue, 0.99), p99Send: quantile(r.proxy.fromSend, 0.99), n: r.proxy.fromDue.length, non200: r.proxy.non200, maxSendLagMs: r.proxy.maxSendLagMs },
    bare: { p50: quantile(r.bare.fromDue, 0.5), p99: quantile(r.bare.fromDue, 0.99), p99Send: quantile(r.bare.fromSend, 0.99), n: r.bare.fromDue.length, non200: r.bare.non200, maxSendLagMs: r.bare.maxSendLagMs },
  }));
  result.fixedRate = rateSummary;
  await bare.proc.stop();

  // 2b. The token path (issue 15): the shipped bundle with the chart's tokenIdentity.enabled, its
  // token door asked from the load pod's address (127.0.0.1) with tokens bound to that pod.
  result.tokenPath = await tokenPath({ namespace: 'bench', name: 'load', uid: loadPodUid, serviceAccount: TOKEN_SERVICE_ACCOUNT }, loadPath);

  // Node 20 (the dev toolchain, NOT what ships): the same comparison, fewer rounds.
  if (C.node20Rounds > 0) {
    log(`Node ${process.version} rounds (not shipped)`);
    const p20 = await startProxy(process.execPath, peers.moto!.endpoint, 'proxy-node20');
    const t20 = await tokenFor(p20.port, '127.0.0.1');
    const b20 = await startBare(process.execPath, bareBundle, replayB64, 'bare-node20');
    const h20 = { 'x-aws-ec2-metadata-token': t20 };
    await saturate(p20.proc.pid, url(p20), h20, 2, CONNECTIONS);
    await saturate(b20.proc.pid, url(b20), h20, 2, CONNECTIONS);
    const rounds20: Array<{ proxy: SaturationRound; bare: SaturationRound }> = [];
    for (let r = 0; r < C.node20Rounds; r++) {
      const pr = await saturate(p20.proc.pid, url(p20), h20, C.seconds, CONNECTIONS);
      const br = await saturate(b20.proc.pid, url(b20), h20, C.seconds, CONNECTIONS);
      rounds20.push({ proxy: pr, bare: br });
    }
    result.node20 = rounds20;
    await p20.proc.stop();
    await b20.proc.stop();
  }

  // 3. First credential: from the API server's acknowledgement of the status patch that makes the
  // pod Running with its IP, to the first 200 on the credential path from that IP.
  // The gap between the pod's creation (bound to this node) and its status turning Running is the
  // kubelet's sandbox start on a real node (about 1.7 s from kubectl apply to Running in
  // /work/shared/real-node.md); the proxy may start its AssumeRole in that gap. Both ends: no gap
  // (Running acknowledged right after the create) and a 1 s gap.
  log(`first credential, ${C.firstPods} pods per gap`);
  const firstCred: Record<string, Array<{ ms: number; attempts: number; statuses: number[] }>> = {};
  for (const gapMs of FIRST_CREDENTIAL_GAPS_MS) {
    const list: Array<{ ms: number; attempts: number; statuses: number[] }> = (firstCred[String(gapMs)] = []);
    for (let i = 0; i < C.firstPods; i++) {
      const ip = `127.0.2.${list.length + 1 + (gapMs === 0 ? 0 : 100)}`;
      const name = `fc-${gapMs}-${i}`;
      // The token does not depend on the pod (HMAC of the caller's IP): an SDK may hold one already.
      const tk = await tokenFor(proxy.port, ip);
      await kube.createPod('bench-fc', name, NODE, 'reader');
      if (gapMs) await sleep(gapMs);
      const t0 = await kube.patchPodRunning('bench-fc', name, ip);
      const r = await until200(proxy.port, ip, tk, roleName('bench-fc'), 5000);
      if (!r.ok) throw new Error(`pod ${name} got no 200 in 5 s: ${r.statuses.join(',')}`);
      list.push({ ms: performance.now() - t0, attempts: r.attempts, statuses: r.statuses });
      // Each pod has the proxy to itself: the previous pod's AssumeRole is done.
      await sleep(100);
    }
  }
  result.firstCredential = firstCred;
  await proxy.proc.stop();
  // The node holds only the scale figure's pods from here on: AssumeRole calls per pod are theirs.
  await inParallel(FIRST_CREDENTIAL_GAPS_MS.flatMap((g) => Array.from({ length: C.firstPods }, (_, i) => `fc-${g}-${i}`)), 8, (name) => kube.deletePod('bench-fc', name));
  await kube.deletePod('bench', 'load');

  // 4. Scale: namespaces in the cluster, pods on the node appearing at once, then a restart.
  log(`creating ${C.namespaces} namespaces`);
  const nsStart = performance.now();
  await inParallel(Array.from({ length: C.namespaces }, (_, i) => `ns-${i}`), 32, (ns) => kube.createNamespace(ns));
  const nsSeconds = (performance.now() - nsStart) / 1000;
  const scaled = await startProxy(node24, stsRelay, 'proxy-scale');
  await sleep(5000);
  const idleWithNamespaces = mb(memoryOf(scaled.proc.pid).rss);
  // "Appearing": created bound to this node, then Running with an IP, as fast as the API server
  // takes them. The proxy may start AssumeRole at either step, so counting starts before the first.
  log(`creating ${C.nodePods} pods on the node, then making them Running`);
  sts.reset();
  const appearStart = performance.now();
  await inParallel(Array.from({ length: C.nodePods }, (_, i) => i), 32, async (i) => void (await kube.createPod(`ns-${i % C.podNamespaces}`, `app-${i}`, NODE, 'reader')));
  const createdSeconds = (performance.now() - appearStart) / 1000;
  await inParallel(Array.from({ length: C.nodePods }, (_, i) => i), 64, async (i) => void (await kube.patchPodRunning(`ns-${i % C.podNamespaces}`, `app-${i}`, nodePodIp(i))));
  const appearSeconds = (performance.now() - appearStart) / 1000;
  const appear = await nodeScale('appear', scaled, sts, appearStart);
  const appear200 = await everyPodAnswered(scaled.port);
  const appearAfterAsking = sts.counts.assumeRole;
  await scaled.proc.stop();

  log('restart on the full node');
  sts.reset();
  const restartStart = performance.now();
  const restarted = await startProxy(node24, stsRelay, 'proxy-restart');
  const restart = await nodeScale('restart', restarted, sts, restartStart);
  const restart200 = await everyPodAnswered(restarted.port);
  const restartAfterAsking = sts.counts.assumeRole;
  await restarted.proc.stop();
  result.scale = { namespaces: C.namespaces, nsSeconds, nodePods: C.nodePods, idleWithNamespacesMb: idleWithNamespaces, createdSeconds, appearSeconds, appear: { ...appear, answered200: appear200, assumeRoleAfterAsking: appearAfterAsking }, restart: { ...restart, answered200: restart200, assumeRoleAfterAsking: restartAfterAsking } };
  result.loadAfter = loadavg();

  const jsonFile = path.join(tmpdir(), `podiam-bench-proxy-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, JSON.stringify(result, null, 2));
  console.log(report(result as unknown as Results, jsonFile));
}

interface TokenPathResults {
  alg: string;
  tokensMinted: number;
  mintSeconds: number;
  firstAndCached: FirstAndCachedRound[];
  /** wrk rounds on the same process, alternating: the metadata path and the token door, both cached. */
  saturation: Array<{ metadata: SaturationRound; token: SaturationRound; load: string }>;
  loadBefore: string;
  loadAfter: string;
}

/**
 * Mints every token first (not timed), starts the token-door proxy, lets it answer the cached
 * token and TOKEN_WARMUP fresh ones, then: first request per token beside the cached token, one at
 * a time; then wrk on the token door beside wrk on the metadata path of the same process.
 */
async function tokenPath(pod: TokenPod, loadPath: string): Promise<TokenPathResults> {
  const loadBeforeTokens = loadavg();
  const count = 1 + TOKEN_WARMUP + C.tokenRounds * C.tokensPerRound;
  log(`token path: minting ${count} tokens bound to ${pod.namespace}/${pod.name}`);
  const m0 = performance.now();
  const tokens = await mintTokens(kubeApi!, pod, count, TOKEN_AUDIENCE);
  const mintSeconds = (performance.now() - m0) / 1000;
  const alg = tokenHeader(tokens[0]!).alg ?? '?';
  // The metadata path's proxy stays idle on the server core meanwhile: it would share the core only with its own timers.
  const p = await startProxy(node24, peers!.moto!.endpoint, 'proxy-token', true);
  try {
    const [cachedToken, ...rest] = tokens as [string, ...string[]];
    const warm = await oneAtATime(p.proc.pid, p.tokenPort!, '127.0.0.1', [cachedToken, ...rest.slice(0, TOKEN_WARMUP)]);
    if (warm.non200) throw new Error(`token door: ${warm.non200} of ${TOKEN_WARMUP + 1} warm-up requests not answered 200; see ${work}/proxy-token.log`);
    const batches = Array.from({ length: C.tokenRounds }, (_, r) => rest.slice(TOKEN_WARMUP + r * C.tokensPerRound, TOKEN_WARMUP + (r + 1) * C.tokensPerRound));
    log(`token path: ${C.tokenRounds} rounds of ${C.tokensPerRound} first requests per token and as many with one cached token`);
    const fc = await firstAndCached(p.proc.pid, p.tokenPort!, '127.0.0.1', batches, cachedToken);

    const metaToken = await tokenFor(p.port, '127.0.0.1');
    const metaFirst = await until200(p.port, '127.0.0.1', metaToken, roleName('bench'), 10_000);
    if (!metaFirst.ok) throw new Error(`the token-door proxy's metadata path answered ${metaFirst.statuses.join(',')}`);
    const door = { url: `http://127.0.0.1:${p.tokenPort}${TOKEN_DOOR_PATH}`, headers: { authorization: cachedToken } };
    const meta = { url: `http://127.0.0.1:${p.port}${loadPath}`, headers: { 'x-aws-ec2-metadata-token': metaToken } };
    await saturate(p.proc.pid, door.url, door.headers, 2, CONNECTIONS);
    await saturate(p.proc.pid, meta.url, meta.headers, 2, CONNECTIONS);
    const sat: TokenPathResults['saturation'] = [];
    for (let r = 0; r < C.rounds; r++) {
      log(`token path: saturation round ${r + 1}/${C.rounds}`);
      const round: Partial<{ metadata: SaturationRound; token: SaturationRound }> = {};
      for (const who of r % 2 === 0 ? (['token', 'metadata'] as const) : (['metadata', 'token'] as const)) {
        const t = who === 'token' ? door : meta;
        round[who] = await saturate(p.proc.pid, t.url, t.headers, C.seconds, CONNECTIONS);
      }
      sat.push({ metadata: round.metadata!, token: round.token!, load: loadavg() });
    }
    return { alg, tokensMinted: count, mintSeconds, firstAndCached: fc, saturation: sat, loadBefore: loadBeforeTokens, loadAfter: loadavg() };
  } finally {
    await p.proc.stop();
  }
}

interface CpuProfileSide {
  /** µs of main-thread busy time per answer, and by category (bench/proxy/profile-summary.ts). */
  busy: number;
  byCategory: Record<string, number>;
}

interface Results {
  startedAt: string;
  profile?: { answers: { proxy: number; bare: number }; proxy: CpuProfileSide; bare: CpuProfileSide };
  quick: boolean;
  nice: number;
  loadBefore: string;
  loadAfter: string;
  node24: string;
  node20Version: string;
  commit: string;
  dirty: string[];
  shippedEnv: Record<string, string>;
  image: { env: Record<string, string>; nodeFlags: string[] };
  idle: { proxyMb: number[]; bareMb: number[] };
  answer: { proxy: { headerBytes: number; bodyBytes: number } };
  saturation: Array<{ proxy: SaturationRound; bare: SaturationRound; load: string }>;
  fixedRate: Array<Record<'proxy' | 'bare', { p50: number; p99: number; p99Send: number; n: number; non200: number; maxSendLagMs: number }>>;
  node20?: Array<{ proxy: SaturationRound; bare: SaturationRound }>;
  firstCredential: Record<string, Array<{ ms: number; attempts: number }>>;
  scale: { namespaces: number; nsSeconds: number; nodePods: number; idleWithNamespacesMb: number; createdSeconds: number; appearSeconds: number; appear: NodeScale; restart: NodeScale };
  tokenPath: TokenPathResults;
}

function report(r: Results, jsonFile: string): string {
  const met = (ok: boolean): string => (ok ? 'met' : '**not met**');
  const sat = r.saturation;
  const pUs = sat.map((s) => s.proxy.cpuMicrosPerAnswer);
  const bUs = sat.map((s) => s.bare.cpuMicrosPerAnswer);
  const ratios = sat.map((s) => s.proxy.cpuMicrosPerAnswer / s.bare.cpuMicrosPerAnswer);
  const busy = sat.flatMap((s) => [s.proxy.busy, s.bare.busy]);
  const errors = sat.reduce((a, s) => a + s.proxy.non2xx + s.proxy.socketErrors + s.bare.non2xx + s.bare.socketErrors, 0);
  const fr = r.fixedRate;
  const p99p = fr.map((x) => x.proxy.p99);
  const p99b = fr.map((x) => x.bare.p99);
  const p99ratio = fr.map((x) => x.proxy.p99 / x.bare.p99);
  const s = r.scale;
  const lines = [
    `Measured ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC${r.quick ? ' (**--quick**: fewer rounds, smaller scale; not for the docs)' : ''}, shipped Node ${r.node24}, 2 cores; load average (1, 5, 15 min) ${r.loadBefore} before, ${r.loadAfter} after. Raw figures: \`${jsonFile}\`.`,
    `Servers on core 0, load generators on core 1${r.nice ? `, both at nice ${r.nice} (\`--nice\`; the peers at 0)` : ', nice 0'}. Built from commit ${r.commit}${r.dirty.length ? ` **plus uncommitted changes** in ${r.dirty.map((l) => l.slice(3)).join(', ')}` : ''}.`,
    `Proxy environment: the chart's defaults (NODE_OPTIONS \`${r.shippedEnv.NODE_OPTIONS ?? ''}\`, log level ${r.shippedEnv.PODIAM_LOG_LEVEL}, prefetch ${r.shippedEnv.PODIAM_PREFETCH}, IMDSv2 required ${r.shippedEnv.PODIAM_REQUIRE_IMDSV2}) under the image's (proxy/Dockerfile: node flags \`${r.image.nodeFlags.join(' ')}\`, ${Object.entries(r.image.env).map(([k, v]) => `${k}=${v}`).join(', ')}). Answer: ${r.answer.proxy.headerBytes} header bytes + ${r.answer.proxy.bodyBytes} body bytes from both servers.`,
    '',
    '| figure | podiam | bare node:http | ratio | target | |',
    '| --- | --- | --- | --- | --- | --- |',
    `| server CPU per cached answer, µs, ${sat.length} alternating rounds of ${C.seconds} s: median (range) | ${spread(pUs)} | ${spread(bUs)} | ${spread(ratios, 2)} (per round) | ≤ 1.10× | ${met(median(ratios) <= 1.1)} |`,
    `| answers per second at saturation | ${spread(sat.map((x) => x.proxy.answersPerSecond), 0)} | ${spread(sat.map((x) => x.bare.answersPerSecond), 0)} | ${spread(sat.map((x) => x.proxy.answersPerSecond / x.bare.answersPerSecond), 2)} | — | |`,
    `| server core busy during the rounds (CPU time / wall time) | ${spread(sat.map((x) => x.proxy.busy), 3)} | ${spread(sat.map((x) => x.bare.busy), 3)} | — | 0.95–0.99 | ${busy.every((b) => b >= 0.95) ? 'saturated' : `**${busy.filter((b) => b < 0.95).length} of ${busy.length} rounds below 0.95**`} |`,
    `| latency at ${RATE} req/s (open loop, from due time), ${fr.length} alternating rounds of ${C.rateSeconds} s: p99 ms, median (range) | ${spread(p99p, 2)} | ${spread(p99b, 2)} | ${spread(p99ratio, 2)} (per round) | ≤ 1.2× | ${met(median(p99p) / median(p99b) <= 1.2)} (${(median(p99p) / median(p99b)).toFixed(2)}× of medians) |`,
    `| same, p50 ms | ${spread(fr.map((x) => x.proxy.p50), 2)} | ${spread(fr.map((x) => x.bare.p50), 2)} | — | — | |`,
    `| same, p99 from send (without queueing behind late requests) ms | ${spread(fr.map((x) => x.proxy.p99Send), 2)} | ${spread(fr.map((x) => x.bare.p99Send), 2)} | — | — | |`,
    `| same, the generator's worst lag behind its schedule, ms (large: the generator's core, not the server, was short of CPU) | ${spread(fr.map((x) => x.proxy.maxSendLagMs), 2)} | ${spread(fr.map((x) => x.bare.maxSendLagMs), 2)} | — | — | |`,
    `| RSS idle after start, MB (${r.idle.proxyMb.length} fresh processes) | ${spread(r.idle.proxyMb)} | ${spread(r.idle.bareMb)} | ${(median(r.idle.proxyMb) / median(r.idle.bareMb)).toFixed(2)} | ≤ 60 MB | ${met(median(r.idle.proxyMb) <= 60)} |`,
    ...Object.entries(r.firstCredential).map(([gap, list]) => {
      const fc = list.map((x) => x.ms);
      const when = gap === '0' ? 'Running acknowledged right after the create' : `Running ${Number(gap) / 1000} s after the create`;
      return `| first credential, ms from the API server's acknowledgement of Running + podIP to the first 200 at the pod's address; ${when} (${fc.length} pods, one at a time) | p50 ${quantile(fc, 0.5).toFixed(1)}, p90 ${quantile(fc, 0.9).toFixed(1)}, range ${Math.min(...fc).toFixed(1)}–${Math.max(...fc).toFixed(1)} | — | — | p50 ≤ 20 ms | ${met(quantile(fc, 0.5) <= 20)} |`;
    }),
    `| RSS idle with ${s.namespaces} namespaces in the cluster, MB | ${s.idleWithNamespacesMb.toFixed(1)} | — | — | — | |`,
  ];
  for (const [name, x] of [[`${s.nodePods} pods appearing at once (created in ${s.createdSeconds.toFixed(1)} s, all Running ${s.appearSeconds.toFixed(1)} s after the first create)`, s.appear], [`restart on the full node (${s.nodePods} pods)`, s.restart]] as const) {
    lines.push(
      `| ${name}: AssumeRole calls by prefetch | ${x.assumeRole} for ${x.podsFetched} pods (${x.perPod.toFixed(2)} per pod on the node; ${x.podsAskedTwice} pods fetched more than once; ${x.abandoned} abandoned by the proxy, ${x.failed} failed; at most ${x.maxInFlight} in flight); ${x.assumeRoleAfterAsking} once every pod had also asked | — | — | ≤ 1.05 per pod | ${met(x.perPod <= 1.05 && x.assumeRoleAfterAsking <= 1.05 * s.nodePods)} |`,
      `| ${name}: RSS steady (${C.steadyWaitMs / 1000} s after the last AssumeRole), MB | ${x.rssSteadyMb.toFixed(1)} (${x.rssSteadyRangeMb[0].toFixed(1)}–${x.rssSteadyRangeMb[1].toFixed(1)} sampled every 0.5 s while idle) | — | — | ≤ 80 MB | ${met(x.rssSteadyMb <= 80)} |`,
      `| ${name}: peak RSS (VmHWM), MB | ${x.peakMb.toFixed(1)} (${(x.peakMb / x.rssSteadyMb).toFixed(2)}× steady) | — | — | ≤ 1.5× steady | ${met(x.peakMb <= 1.5 * x.rssSteadyMb)} |`,
      `| ${name}: pods answered 200 afterwards; prefetch settled | ${x.answered200} of ${s.nodePods}; ${x.settled ? `settled after ${x.settleSeconds.toFixed(1)} s` : `**${x.podsFetched} of ${s.nodePods} pods fetched; did not settle in 240 s**`} | — | — | all | ${met(x.answered200 === s.nodePods)} |`,
    );
  }
  if (r.node20?.length) {
    const n20 = r.node20;
    lines.push(
      '',
      `Node ${r.node20Version} (the development toolchain; **not what ships**), ${n20.length} rounds: server CPU per answer proxy ${spread(n20.map((x) => x.proxy.cpuMicrosPerAnswer))} µs, bare ${spread(n20.map((x) => x.bare.cpuMicrosPerAnswer))} µs, ratio ${spread(n20.map((x) => x.proxy.cpuMicrosPerAnswer / x.bare.cpuMicrosPerAnswer), 2)}.`,
    );
  }
  lines.push('', `Saturation rounds: ${errors} non-2xx answers or socket errors in all. Load average after each round: ${sat.map((x) => x.load.split(' ')[0]).join(', ')}. ${s.namespaces} namespaces created in ${s.nsSeconds.toFixed(1)} s.`);
  if (r.profile) {
    const p = r.profile;
    const categories = [...new Set([...Object.keys(p.proxy.byCategory), ...Object.keys(p.bare.byCategory)])];
    const of = (side: Record<string, number>, k: string): number => side[k] ?? 0;
    categories.sort((a, b) => of(p.proxy.byCategory, b) - of(p.bare.byCategory, b) - (of(p.proxy.byCategory, a) - of(p.bare.byCategory, a)));
    lines.push(
      '',
      `CPU profiles at saturation (\`--profile\`: a fresh proxy and bare server each under \`--cpu-prof\`, wrk for ${C.seconds + 2} s; ${p.answers.proxy} and ${p.answers.bare} answers; each profile covers its process's whole life, and the profiler's own cost is in both). Self time per answer, µs:`,
      '',
      '| where | proxy | bare | proxy − bare |',
      '| --- | --- | --- | --- |',
      `| all busy time (main thread) | ${p.proxy.busy.toFixed(2)} | ${p.bare.busy.toFixed(2)} | ${(p.proxy.busy - p.bare.busy).toFixed(2)} |`,
      ...categories.map((k) => `| ${k} | ${of(p.proxy.byCategory, k).toFixed(2)} | ${of(p.bare.byCategory, k).toFixed(2)} | ${(of(p.proxy.byCategory, k) - of(p.bare.byCategory, k)).toFixed(2)} |`),
    );
  }
  lines.push('', ...tokenReport(r.tokenPath));
  return lines.join('\n');
}

function busyNote(busy: number[]): string {
  const low = busy.filter((b) => b < 0.95).length;
  return low === 0 ? 'saturated' : `**${low} of ${busy.length} rounds below 0.95**`;
}

/** The token path's table: first request per token and cached, one at a time; cached under wrk beside the metadata path. */
function tokenReport(t: TokenPathResults): string[] {
  const fc = t.firstAndCached;
  const n = fc.reduce((a, r) => a + r.first.latenciesMs.length, 0);
  const all = (kind: 'first' | 'cached'): number[] => fc.flatMap((r) => r[kind].latenciesMs);
  const q = (kind: 'first' | 'cached', p: number): string => quantile(all(kind), p).toFixed(3);
  const non200 = fc.reduce((a, r) => a + r.first.non200 + r.cached.non200, 0);
  const sat = t.saturation;
  const satErrors = sat.reduce((a, x) => a + x.token.non2xx + x.token.socketErrors + x.metadata.non2xx + x.metadata.socketErrors, 0);
  return [
    `Token path (PODIAM_TOKEN_IDENTITY=true, the chart's tokenIdentity defaults): ${t.tokensMinted} ${t.alg} tokens from the API server's TokenRequest API bound to the load pod (audience ${TOKEN_AUDIENCE}), minted in ${t.mintSeconds.toFixed(1)} s before the rounds; sent from the pod's address 127.0.0.1; load average ${t.loadBefore} before, ${t.loadAfter} after.`,
    '',
    '| figure | token door | | ratio | |',
    '| --- | --- | --- | --- | --- |',
    `| one request at a time on one keep-alive connection, ${fc.length} alternating rounds of ${C.tokensPerRound} + ${C.tokensPerRound} requests | first request per token (verification; credentials cached) | the same token again (cached) | first / cached | |`,
    `| latency send → end of answer, p50 ms (${n} requests each) | ${q('first', 0.5)} | ${q('cached', 0.5)} | ${(quantile(all('first'), 0.5) / quantile(all('cached'), 0.5)).toFixed(2)} | |`,
    `| same, p99 ms | ${q('first', 0.99)} | ${q('cached', 0.99)} | ${(quantile(all('first'), 0.99) / quantile(all('cached'), 0.99)).toFixed(2)} | |`,
    `| server CPU per answer, µs (schedstat, all threads): median of rounds (range) | ${spread(fc.map((r) => r.first.cpuMicrosPerAnswer))} | ${spread(fc.map((r) => r.cached.cpuMicrosPerAnswer))} | ${spread(fc.map((r) => r.first.cpuMicrosPerAnswer / r.cached.cpuMicrosPerAnswer), 2)} | ${non200} non-200 |`,
    `| what a first request costs beyond a cached one (verification), µs of server CPU: first − cached per round, median (range) | ${spread(fc.map((r) => r.first.cpuMicrosPerAnswer - r.cached.cpuMicrosPerAnswer))} | — | — | |`,
    '',
    '| figure | token door, cached token | metadata path, same process | token / metadata | |',
    '| --- | --- | --- | --- | --- |',
    `| server CPU per cached answer under wrk (${CONNECTIONS} connections), µs, ${sat.length} alternating rounds of ${C.seconds} s: median (range) | ${spread(sat.map((x) => x.token.cpuMicrosPerAnswer))} | ${spread(sat.map((x) => x.metadata.cpuMicrosPerAnswer))} | ${spread(sat.map((x) => x.token.cpuMicrosPerAnswer / x.metadata.cpuMicrosPerAnswer), 2)} (per round) | |`,
    `| answers per second at saturation | ${spread(sat.map((x) => x.token.answersPerSecond), 0)} | ${spread(sat.map((x) => x.metadata.answersPerSecond), 0)} | ${spread(sat.map((x) => x.token.answersPerSecond / x.metadata.answersPerSecond), 2)} | |`,
    `| server core busy (CPU time / wall time; below 0.95: the server's core was not all its own, or the generator was short) | ${spread(sat.map((x) => x.token.busy), 3)} | ${spread(sat.map((x) => x.metadata.busy), 3)} | — | ${busyNote(sat.flatMap((x) => [x.token.busy, x.metadata.busy]))}; ${satErrors} non-2xx or socket errors |`,
  ];
}

const cleanup = async (): Promise<void> => {
  killAllPinned();
  kubeApi?.close();
  await stsCounter?.stop();
  await peers?.stop();
  rmSync(work, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));
try {
  await main();
} catch (err) {
  console.error(`bench:proxy failed (logs of this run: ${work}, kept):`, err);
  killAllPinned();
  kubeApi?.close();
  await stsCounter?.stop();
  await peers?.stop();
  process.exitCode = 1;
} finally {
  if (process.exitCode !== 1) await cleanup();
}
