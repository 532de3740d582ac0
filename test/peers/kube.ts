// A real Kubernetes API server for the tests: kube-apiserver and etcd, built by
// scripts/peers/install-kube.sh, started on free loopback ports with a fresh CA.
//
// No controller-manager, scheduler or kubelet runs. Pods stay Pending unless a test sets
// spec.nodeName itself and patches the status subresource (podIP, phase): that is how the
// tests simulate a node. ServiceAccount objects are not created for you (no controller),
// and the ServiceAccount admission plugin is off, so pods create without one.
// For a real node (kubelet, containerd, controller manager, scheduler) use startNode in node.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { PodiamError } from '../../core/src/errors.ts';

const execFileAsync = promisify(execFile);

export const kubeVersion = 'v1.34.4';
export const etcdVersion = 'v3.6.4';

/** The ServiceCIDR the API server allocates ClusterIPs from: a documentation range, never routed. */
export const serviceClusterIpRange = '198.51.100.0/24';

export class KubePeerError extends PodiamError {
  constructor(code: 'PODIAM_PEER_NOT_INSTALLED' | 'PODIAM_PEER_START_FAILED' | 'PODIAM_PEER_REQUEST_FAILED', message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export interface StartKubeOptions {
  /** Serve watches from the API server's watch cache (the default, as in a real cluster).
   * With false, every watch goes to etcd, so a watch from a compacted resourceVersion
   * reliably gets 410 Gone after `compactEtcd()`. */
  watchCache?: boolean;
  /** More kube-apiserver flags, e.g. ['--watch-cache-sizes=pods#100']; they come last and win. */
  extraArgs?: string[];
  /** How long to wait for /readyz before giving up. Default 60 s. */
  readyTimeoutMs?: number;
  /** More IP addresses in the serving certificate (e.g. the node address pods dial; see node.ts). */
  serverIps?: string[];
  /** Turn the ServiceAccount admission plugin on: pods then get projected service-account
   * tokens, which needs kube-controller-manager (startNode) to create the ServiceAccounts. */
  serviceAccounts?: boolean;
  /** The service-account signing key: 'ec' (P-256, ES256 tokens; the default) or 'rsa' (2048-bit,
   * RS256 tokens, as kubeadm and EKS sign them; the token-path benchmark measures those). */
  serviceAccountKey?: 'ec' | 'rsa';
  /** Give the API server a client certificate for kubelets (exec, logs) and verify kubelets'
   * serving certificates with the cluster CA; for a real node (node.ts). */
  kubeletClient?: boolean;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** The cluster CA that signed it: use it as a webhook's caBundle. */
  caPem: string;
}

export interface Kube {
  /** https://127.0.0.1:PORT */
  server: string;
  port: number;
  kubeconfigPath: string;
  caPem: string;
  /** A static bearer token for the admin (group system:masters), for plain HTTP clients. */
  token: string;
  /** Admin client certificate (O=system:masters), also in the kubeconfig. */
  clientCertPem: string;
  clientKeyPem: string;
  /** http://127.0.0.1:PORT of the etcd the API server stores into. */
  etcdEndpoint: string;
  /** For child processes such as kubectl and helm. */
  env: { KUBECONFIG: string };
  kubeConfig(): KubeConfig;
  /** Compacts etcd and returns the compaction revision: every resourceVersion handed out
   * before the call is then expired (410 Gone) for watches that reach etcd, i.e. with
   * `watchCache: false`, or with the cache on once the cache has to go back to etcd. */
  compactEtcd(): Promise<number>;
  /** A serving certificate signed by the cluster CA, e.g. for a local admission webhook. */
  issueServingCert(hosts?: { ips?: string[]; dns?: string[] }): Promise<IssuedCert>;
  /** A client certificate signed by the cluster CA (CN = user, O = group), e.g. for a kubelet. */
  issueClientCert(subject: { cn: string; o?: string }): Promise<IssuedCert>;
  /** Serving certificate with IP and DNS SANs, as issueServingCert, but with the given CN. */
  issueServingCertFor(cn: string, hosts: { ips?: string[]; dns?: string[] }): Promise<IssuedCert>;
  /** Holds ca.crt, ca.key (the cluster CA) and sa.key, sa.pub (service-account signing), for
   * kube-controller-manager. */
  pkiDir: string;
  /** Where kube-apiserver and etcd write their logs (removed by stop()). */
  logDir: string;
  /** Restarts kube-apiserver with a new service-account signing key (pkiDir's sa.key, sa.pub
   * become the new pair); every earlier public key stays trusted, so tokens signed before keep
   * verifying until they expire. Same etcd, port, CA and admin credentials: clients keep working
   * (their open watches break once, as in a control-plane upgrade). Resolves once /readyz says ok. */
  rotateServiceAccountKey(): Promise<void>;
  /** Restarts kube-apiserver trusting only the current signing key: the keys rotated out are
   * retired, so the issuer's JWKS stops publishing them. */
  retireOldServiceAccountKeys(): Promise<void>;
  stop(): Promise<void>;
}

export function cacheBinDir(): string {
  return path.join(process.env.PODIAM_CACHE_DIR ?? path.join(homedir(), '.cache', 'podiam'), 'bin');
}

function binary(name: 'kube-apiserver' | 'etcd'): string {
  const file = path.join(cacheBinDir(), name);
  if (!existsSync(file)) {
    throw new KubePeerError('PODIAM_PEER_NOT_INSTALLED', `${file} is missing. Run 'bash scripts/peers/install-kube.sh' (or npm run peers:install).`);
  }
  return file;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Resolves once port can be bound on 127.0.0.1; polls every 50 ms, bounded by deadlineMs. */
async function waitPortFree(port: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await portFree(port))) {
    if (Date.now() >= end) throw new KubePeerError('PODIAM_PEER_START_FAILED', `port ${port} still in use ${deadlineMs} ms after kube-apiserver was killed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Peer processes run under a tiny sh watchdog that holds our stdin pipe: if this Node
// process dies in any way (even SIGKILL), the pipe closes and the watchdog kills the
// peer and removes the temp dir, so nothing outlives the test file. Each watchdog leads
// its own process group, so stop() kills peer and watchdog together (and the rm with them).
const watchdog = [
  'exec 3<&0',
  '"$@" </dev/null & c=$!',
  '{ cat <&3 >/dev/null; kill -KILL "$c" 2>/dev/null; case "$PODIAM_PEER_TMP" in */podiam-kube-*) rm -rf "$PODIAM_PEER_TMP";; esac; } & w=$!',
  // The peer exited on its own: keep its log for the error message, disarm the cleanup.
  'wait "$c"; rc=$?; kill -KILL "$w" 2>/dev/null; exit "$rc"',
].join('\n');

interface Peer {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

function childEnv(tmp: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PODIAM_PEER_TMP: tmp };
  // A proxy from the environment would route the API server's webhook calls (and any
  // other egress) away from loopback: tests may send traffic only to loopback.
  for (const key of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) delete env[key];
  return env;
}

function startPeer(name: string, file: string, args: string[], dir: string): Peer {
  const logFile = path.join(dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn('sh', ['-c', watchdog, `podiam-${name}`, file, ...args], {
    stdio: ['pipe', fd, fd],
    detached: true,
    env: childEnv(dir),
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The watchdog keeps running as long as we do; it must not keep our event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return { name, child, logFile, exited };
}

function killGroup(peer: Peer): void {
  if (peer.child.pid === undefined || peer.child.exitCode !== null || peer.child.signalCode !== null) return;
  try {
    process.kill(-peer.child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const running = new Set<{ peers: Peer[]; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of running) {
      for (const p of r.peers) killGroup(p);
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, timeout: 20_000 });
  } catch (err) {
    throw new KubePeerError('PODIAM_PEER_START_FAILED', `openssl ${args[0]} failed; is the openssl CLI installed?`, { cause: err });
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string): Promise<void> {
  writeFileSync(
    path.join(dir, 'ca.cnf'),
    [
      '[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = v3',
      '[dn]', 'CN = podiam-test-ca',
      '[v3]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign,digitalSignature', 'subjectKeyIdentifier = hash',
    ].join('\n'),
  );
  await openssl(['req', '-x509', '-new', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7', '-config', 'ca.cnf'], dir);
}

let certSerial = 0;

async function issueCert(dir: string, name: string, subject: { cn: string; o?: string }, usage: 'serverAuth' | 'clientAuth', sans: string[]): Promise<{ certPem: string; keyPem: string }> {
  const lines = ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `CN = ${subject.cn}`];
  if (subject.o) lines.push(`O = ${subject.o}`);
  lines.push(
    '[v3]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage = ${usage}`, 'authorityKeyIdentifier = keyid',
  );
  if (sans.length) lines.push(`subjectAltName = ${sans.join(',')}`);
  writeFileSync(path.join(dir, `${name}.cnf`), lines.join('\n'));
  certSerial += 1;
  await openssl(
    ['req', '-x509', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '7',
      '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(Date.now() * 1000 + certSerial),
      '-config', `${name}.cnf`, '-extensions', 'v3'],
    dir,
  );
  return { certPem: readFileSync(path.join(dir, `${name}.crt`), 'utf8'), keyPem: readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

interface HttpResult {
  status: number;
  body: string;
}

function get(url: string, tls: { ca: string; cert: string; key: string } | undefined, method = 'GET', body?: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const opts = { method, timeout: 5_000, headers: body ? { 'content-type': 'application/json' } : {} };
    const req = u.protocol === 'https:' ? httpsRequest(u, { ...opts, ...tls }) : httpRequest(u, opts);
    req.on('timeout', () => req.destroy(new Error(`timeout on ${url}`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.end(body);
  });
}

/** Polls `probe` every 100 ms until it returns true, the peer exits, or the deadline passes. */
async function waitFor(what: string, peer: Peer, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  let exited = false;
  void peer.exited.then(() => (exited = true));
  // Bounded in time (deadlineMs) and so in count (one probe per >= 100 ms).
  while (Date.now() < end) {
    if (exited) {
      throw new KubePeerError('PODIAM_PEER_START_FAILED', `${peer.name} exited while starting; last log lines:\n${logTail(peer.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new KubePeerError('PODIAM_PEER_START_FAILED', `${what} not ready after ${deadlineMs} ms (last error: ${String(last)}); last log lines:\n${logTail(peer.logFile)}`, { cause: last });
}

function kubeconfigYaml(server: string, caPem: string, cert: string, key: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: podiam-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    'users:',
    '- name: podiam-admin',
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    '- name: podiam-test',
    '  context:',
    '    cluster: podiam-test',
    '    user: podiam-admin',
    '    namespace: default',
    'current-context: podiam-test',
    '',
  ].join('\n');
}

/** A fresh service-account signing pair as dir/sa.key and dir/sa.pub (P-256, so tokens are ES256; or RSA 2048, RS256). */
function writeServiceAccountKey(dir: string, type: 'ec' | 'rsa' = 'ec'): void {
  const sa = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(path.join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(path.join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
}

/** Starts etcd and kube-apiserver on free loopback ports; resolves once /readyz says ok. */
export async function startKube(opts: StartKubeOptions = {}): Promise<Kube> {
  // A free port is found by binding port 0 and releasing it, so another test file may
  // take it before our peer binds it: start again on fresh ports, at most three times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKubeOnce(opts);
    } catch (err) {
      const portTaken = err instanceof KubePeerError && /address already in use/.test(err.message);
      if (!portTaken || attempt >= 3) throw err;
    }
  }
}

async function startKubeOnce(opts: StartKubeOptions): Promise<Kube> {
  const apiserverBin = binary('kube-apiserver');
  const etcdBin = binary('etcd');
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-kube-'));
  const peers: Peer[] = [];
  const entry = { peers, dir };
  installExitHook();
  running.add(entry);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // Test data only: no graceful shutdown needed, and SIGKILL keeps stop() fast.
      for (const p of [...peers].reverse()) {
        killGroup(p);
        await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5_000))]);
      }
      running.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const [etcdClientPort, etcdPeerPort, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdEndpoint = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startPeer('etcd', etcdBin, [
      '--name=podiam', `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdEndpoint}`, `--advertise-client-urls=${etcdEndpoint}`,
      `--listen-peer-urls=${etcdPeerUrl}`, `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=podiam=${etcdPeerUrl}`, '--initial-cluster-state=new',
      // Throwaway data: durability buys nothing here and fsync is slow on a shared disk.
      '--unsafe-no-fsync', '--log-level=warn',
    ], dir);
    peers.push(etcd);

    // Certificates while etcd starts.
    await makeCa(dir);
    const serverSans = ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local', 'IP:198.51.100.1', ...(opts.serverIps ?? []).map((i) => `IP:${i}`)];
    const [, admin] = await Promise.all([
      issueCert(dir, 'apiserver', { cn: 'kube-apiserver' }, 'serverAuth', serverSans),
      issueCert(dir, 'admin', { cn: 'podiam-admin', o: 'system:masters' }, 'clientAuth', []),
    ]);
    const kubeletClientArgs: string[] = [];
    if (opts.kubeletClient) {
      await issueCert(dir, 'apiserver-kubelet', { cn: 'kube-apiserver-kubelet-client', o: 'system:masters' }, 'clientAuth', []);
      kubeletClientArgs.push(
        `--kubelet-client-certificate=${path.join(dir, 'apiserver-kubelet.crt')}`, `--kubelet-client-key=${path.join(dir, 'apiserver-kubelet.key')}`,
        `--kubelet-certificate-authority=${path.join(dir, 'ca.crt')}`,
      );
    }
    writeServiceAccountKey(dir, opts.serviceAccountKey);
    // Public keys rotated out by rotateServiceAccountKey() and not yet retired, beside sa.pub.
    const previousSaPubs: string[] = [];
    let rotations = 0;
    const token = randomBytes(24).toString('hex');
    writeFileSync(path.join(dir, 'tokens.csv'), `${token},podiam-admin,podiam-admin,"system:masters"\n`);
    const caPem = readFileSync(path.join(dir, 'ca.crt'), 'utf8');

    await waitFor('etcd', etcd, 20_000, async () => {
      const r = await get(`${etcdEndpoint}/health`, undefined);
      return r.status === 200 && (JSON.parse(r.body) as { health?: string }).health === 'true';
    });

    const args = (): string[] => [
      '--bind-address=127.0.0.1', `--secure-port=${securePort}`, '--advertise-address=127.0.0.1',
      `--etcd-servers=${etcdEndpoint}`,
      // Compaction only when a test asks for it (compactEtcd), so 410s are deterministic.
      '--etcd-compaction-interval=0',
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--tls-cert-file=${path.join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${path.join(dir, 'apiserver.key')}`,
      `--client-ca-file=${path.join(dir, 'ca.crt')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      // The flag repeats: the issuer's JWKS publishes every key given, and tokens signed by any verify.
      ...[...previousSaPubs, 'sa.pub'].map((f) => `--service-account-key-file=${path.join(dir, f)}`),
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--authorization-mode=RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      // Without serviceAccounts no token controller runs (no controller-manager): pods must create without a ServiceAccount.
      ...(opts.serviceAccounts ? [] : ['--disable-admission-plugins=ServiceAccount']),
      '--allow-privileged=true',
      // The "kubernetes" Service's Endpoints would carry 127.0.0.1, which validation
      // refuses (loopback); nothing in the tests routes to it.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      `--watch-cache=${opts.watchCache ?? true}`,
      ...kubeletClientArgs,
      ...(opts.extraArgs ?? []),
    ];
    const server = `https://127.0.0.1:${securePort}`;
    const tls = { ca: caPem, cert: admin.certPem, key: admin.keyPem };
    const startApiserver = async (): Promise<void> => {
      const apiserver = startPeer('kube-apiserver', apiserverBin, args(), dir);
      peers.push(apiserver);
      await waitFor('kube-apiserver /readyz', apiserver, opts.readyTimeoutMs ?? 60_000, async () => {
        const r = await get(`${server}/readyz`, tls);
        return r.status === 200 && r.body.trim() === 'ok';
      });
    };
    // The port was ours until the kill: a test file that binds port 0 in the moment between
    // could take it, and the restart then fails with "address already in use" (no retry here,
    // since clients hold the address).
    const restartApiserver = async (): Promise<void> => {
      const old = peers.find((p) => p.name === 'kube-apiserver');
      if (old) {
        killGroup(old);
        await Promise.race([old.exited, new Promise((r) => setTimeout(r, 10_000))]);
        peers.splice(peers.indexOf(old), 1);
        // The watchdog exits at once; kube-apiserver, killed with it, may still hold the port
        // for a moment while the kernel tears it down.
        await waitPortFree(securePort, 10_000);
      }
      await startApiserver();
    };
    await startApiserver();

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const kubeconfig = kubeconfigYaml(server, caPem, admin.certPem, admin.keyPem);
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

    return {
      server,
      port: securePort,
      kubeconfigPath,
      caPem,
      token,
      clientCertPem: admin.certPem,
      clientKeyPem: admin.keyPem,
      etcdEndpoint,
      env: { KUBECONFIG: kubeconfigPath },
      logDir: dir,
      pkiDir: dir,
      kubeConfig(): KubeConfig {
        const kc = new KubeConfig();
        kc.loadFromString(kubeconfig);
        return kc;
      },
      async compactEtcd(): Promise<number> {
        // A watch from resourceVersion R starts at etcd revision R+1, and etcd still serves
        // the compaction revision itself: two writes outside /registry (invisible to the
        // API server) put the latest handed-out resourceVersion two revisions behind.
        let revision = 0;
        for (const n of [1, 2]) {
          const put = await get(`${etcdEndpoint}/v3/kv/put`, undefined, 'POST', JSON.stringify({ key: Buffer.from('/podiam-test/compaction-marker').toString('base64'), value: Buffer.from(String(n)).toString('base64') }));
          revision = Number((JSON.parse(put.body) as { header?: { revision?: string } }).header?.revision);
          if (put.status !== 200 || !Number.isInteger(revision)) {
            throw new KubePeerError('PODIAM_PEER_REQUEST_FAILED', `etcd put answered ${put.status}: ${put.body}`);
          }
        }
        const compact = await get(`${etcdEndpoint}/v3/kv/compaction`, undefined, 'POST', JSON.stringify({ revision: String(revision), physical: true }));
        if (compact.status !== 200) {
          throw new KubePeerError('PODIAM_PEER_REQUEST_FAILED', `etcd compaction answered ${compact.status}: ${compact.body}`);
        }
        return revision;
      },
      async issueClientCert(subject): Promise<IssuedCert> {
        const issued = await issueCert(dir, `client-${randomBytes(4).toString('hex')}`, subject, 'clientAuth', []);
        return { ...issued, caPem };
      },
      async issueServingCertFor(cn, hosts): Promise<IssuedCert> {
        const sans = [...(hosts.ips ?? []).map((i) => `IP:${i}`), ...(hosts.dns ?? []).map((d) => `DNS:${d}`)];
        const issued = await issueCert(dir, `serving-${randomBytes(4).toString('hex')}`, { cn }, 'serverAuth', sans);
        return { ...issued, caPem };
      },
      async issueServingCert(hosts = {}): Promise<IssuedCert> {
        const ips = hosts.ips ?? ['127.0.0.1'];
        const dns = hosts.dns ?? ['localhost'];
        const name = `serving-${randomBytes(4).toString('hex')}`;
        const issued = await issueCert(dir, name, { cn: dns[0] ?? ips[0] ?? 'localhost' }, 'serverAuth', [...ips.map((i) => `IP:${i}`), ...dns.map((d) => `DNS:${d}`)]);
        return { ...issued, caPem };
      },
      async rotateServiceAccountKey(): Promise<void> {
        rotations += 1;
        const previous = `sa-previous-${rotations}.pub`;
        renameSync(path.join(dir, 'sa.pub'), path.join(dir, previous));
        previousSaPubs.push(previous);
        writeServiceAccountKey(dir, opts.serviceAccountKey);
        await restartApiserver();
      },
      async retireOldServiceAccountKeys(): Promise<void> {
        previousSaPubs.length = 0;
        await restartApiserver();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
