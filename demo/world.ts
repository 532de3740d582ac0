/**
 * The whole system on one machine, for `npm run demo` and the end-to-end tests:
 * moto as AWS (IAM enforcement on), a real kube-apiserver, the EC2 metadata mock serving the
 * node's session of the intermediate role, the example policies published through the CLI's
 * bundle code, the reconcile Lambda handler run locally, the node proxy as its own process
 * (in a "node" network namespace when root), and pods that are network namespaces (or
 * loopback addresses) running the unmodified AWS SDK.
 *
 *   const world = await startWorld({ log });
 *   try { … } finally { await world.stop(); }
 *
 * stop() undoes everything that start did, in reverse order, and is safe to call twice; a
 * start that fails half-way undoes what it had done before it throws.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import type { Bundle } from '../iam-model/src/bundle/bundle.ts';
import { ROLE_ANNOTATION } from '../core/src/annotations.ts';
import { uploadBundle } from '../cli/src/bundle/publish.ts';
import { checkedBundle } from '../cli/src/commands/publish-command.ts';
import type { Logger } from '../functions/lib/log.ts';
import type { ReconcileDeps } from '../functions/lib/reconcile.ts';
import { createReconcileHandler, type ReconcileResult } from '../functions/reconcile/handler.ts';
import { startImdsMock, type ImdsMock } from '../test/peers/imds.ts';
import { startKube, type Kube } from '../test/peers/kube.ts';
import { startMoto, type MotoPeer } from '../test/peers/moto.ts';
import { startProcess, type PeerProcess } from '../test/peers/process.ts';
import { adminClients, demoFunctionsConfig, prepareAccount, type AdminClients, type DemoAccount } from './aws-account.ts';
import { DEMO_NAMES, type Check, type PodPlan, type PodRun } from './checks.ts';
import { DemoError } from './errors.ts';
import { createPodNetwork, defaultMode, type NetworkMode, type PodNetwork, type PodSlot } from './network.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface WorldOptions {
  mode?: NetworkMode;
  /** Progress lines ("moto ready", …); the demo prints them, tests may drop them. */
  progress?: (line: string) => void;
  /** Receives the functions' JSON log entries (default: dropped). */
  functionsLog?: Logger;
  policiesDir?: string;
}

export interface WorldPod {
  namespace: string;
  name: string;
  role: string;
  ip: string;
  uid: string;
  slot: PodSlot;
}

export interface World {
  mode: NetworkMode;
  cluster: string;
  moto: MotoPeer;
  kube: Kube;
  imds: ImdsMock;
  account: DemoAccount;
  admin: AdminClients;
  core: CoreV1Api;
  reconcileDeps: ReconcileDeps;
  policiesDir: string;
  /** Checks a policies folder with the CLI's code and uploads its bundle to the bundle bucket. */
  publish(dir?: string): Promise<Bundle>;
  /** The reconcile Lambda handler, invoked locally with an event. */
  reconcile(event: unknown): Promise<ReconcileResult>;
  /** The S3 "Object Created" EventBridge event for the bundle key. */
  bundlePublishedEvent(): unknown;
  startProxy(): Promise<void>;
  stopProxy(): Promise<void>;
  /** A number from the proxy's Prometheus metrics (summed over labels); undefined when absent. */
  metric(name: string): Promise<number | undefined>;
  /** Creates the pod in the API server on this node, with its IP in status, and a network slot for it. */
  createPod(spec: { namespace: string; name: string; role?: string }): Promise<WorldPod>;
  /** Runs demo/pod-client.ts as the pod (bounded: 60 s). */
  runInPod(pod: WorldPod, checks: Check[], opts?: { exportCredentials?: boolean }): Promise<PodRun>;
  /** Waits (bounded) until the proxy has indexed `count` pods. */
  waitForIndexed(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export const NODE_NAME = 'demo-node-1';

/** Environment for child processes: no AWS identity or profile from the caller's shell. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'LANG', 'TZ', 'SYSTEMROOT']) if (process.env[key]) env[key] = process.env[key];
  return { ...env, ...extra };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const progress = opts.progress ?? (() => {});
  const mode = opts.mode ?? defaultMode();
  const cluster = DEMO_NAMES.cluster;
  const policiesDir = opts.policiesDir ?? path.join(repoRoot, 'policies');
  const undo: Array<() => Promise<void> | void> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const step of undo.splice(0).reverse()) {
        try {
          await step();
        } catch {
          // Keep undoing the rest; every step is best effort at this point.
        }
      }
    })());

  try {
    const t0 = Date.now();
    // startMoto loads test/peers/moto-patch (the same patch every test's moto runs with), so moto
    // refuses what AWS refuses where podiam depends on it; the file lists what it enforces.
    const [motoR, kubeR] = await Promise.allSettled([startMoto({ enforceIam: true }), startKube()]);
    if (motoR.status === 'fulfilled') undo.push(() => motoR.value.stop());
    if (kubeR.status === 'fulfilled') undo.push(() => kubeR.value.stop());
    if (motoR.status === 'rejected') throw motoR.reason;
    if (kubeR.status === 'rejected') throw kubeR.reason;
    const moto = motoR.value;
    const kube = kubeR.value;
    progress(`moto (IAM enforcement on) and kube-apiserver ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const admin = adminClients(moto);
    undo.push(() => admin.destroy());
    // The boundary the guardrails name must exist before reconcile attaches it.
    const firstBundle = checkedBundle({ dir: policiesDir, cluster }, () => {});
    const account = await prepareAccount(moto, admin, { cluster, boundaryArn: firstBundle.guardrails.permissionsBoundaryArn });
    progress(`account ready: intermediate role ${account.nodeRoleArn}, buckets ${DEMO_NAMES.ordersBucket} and ${DEMO_NAMES.otherBucket}, table ${DEMO_NAMES.ledgerTable}`);

    const imds = await startImdsMock({ role: { name: account.nodeRoleName, credentials: account.nodeCredentials } });
    undo.push(() => imds.stop());

    const config = demoFunctionsConfig(moto, account, { cluster, boundaryArn: firstBundle.guardrails.permissionsBoundaryArn });
    const reconcileDeps: ReconcileDeps = {
      iam: admin.iam,
      s3: admin.s3,
      config,
      accountId: async () => moto.accountId,
      log: opts.functionsLog ?? (() => {}),
    };
    const handler = createReconcileHandler(reconcileDeps);

    const port = (url: string): number => Number(new URL(url).port);
    const network: PodNetwork = await createPodNetwork(mode, { moto: port(moto.endpoint), others: [kube.port, port(imds.endpoint)] });
    undo.push(() => network.cleanup());
    progress(mode === 'netns' ? 'network namespaces ready: node 203.0.113.1 (bridge), pods from 203.0.113.11' : 'loopback mode (not root): pods are 127.0.0.x source addresses');

    const core = kube.kubeConfig().makeApiClient(CoreV1Api);
    const home = mkdtempSync(path.join(tmpdir(), 'podiam-demo-home-'));
    undo.push(() => rmSync(home, { recursive: true, force: true }));

    let proxy: PeerProcess | undefined;
    const startProxyProcess = async (): Promise<void> => {
      if (proxy) return;
      const cmd = network.proxyNode(['--import', 'tsx', path.join(repoRoot, 'proxy/src/main.ts')]);
      proxy = await startProcess({
        name: 'podiam-proxy',
        command: cmd.command,
        args: cmd.args,
        cwd: repoRoot,
        env: cleanEnv({
          ...cmd.env,
          HOME: home,
          PODIAM_CLUSTER_NAME: cluster,
          PODIAM_NODE_NAME: NODE_NAME,
          PODIAM_AWS_REGION: moto.region,
          PODIAM_ACCOUNT_ID: moto.accountId,
          PODIAM_STS_ENDPOINT: moto.endpoint,
          PODIAM_IMDS_UPSTREAM: imds.endpoint,
          PODIAM_KUBECONFIG: kube.kubeconfigPath,
          PODIAM_LOG_LEVEL: 'info',
          ...network.proxyEnv,
        }),
        ready: async () => (await network.metrics('/readyz')).status === 200,
        // Generous: on a loaded 2-core machine, loading the proxy's TypeScript alone can take seconds.
        readyTimeoutMs: 60_000,
      });
    };
    const stopProxyProcess = async (): Promise<void> => {
      const p = proxy;
      proxy = undefined;
      await p?.stop();
    };
    undo.push(stopProxyProcess);

    const metric = async (name: string): Promise<number | undefined> => {
      const res = await network.metrics('/metrics');
      if (res.status !== 200) throw new DemoError(`the proxy's metrics answered ${res.status}; see its log lines above.`);
      let sum: number | undefined;
      for (const line of res.body.split('\n')) {
        if (line.startsWith('#')) continue;
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line.trim());
        if (m && m[1] === name) sum = (sum ?? 0) + Number(m[3]);
      }
      return sum;
    };

    const namespaces = new Set<string>();
    const createPod = async (spec: { namespace: string; name: string; role?: string }): Promise<WorldPod> => {
      if (!namespaces.has(spec.namespace)) {
        try {
          await core.createNamespace({ body: { metadata: { name: spec.namespace } } });
        } catch (err: unknown) {
          if ((err as { code?: number }).code !== 409) throw err;
        }
        namespaces.add(spec.namespace);
      }
      const slot = await network.addPod();
      const created = await core.createNamespacedPod({
        namespace: spec.namespace,
        body: {
          metadata: { name: spec.name, ...(spec.role ? { annotations: { [ROLE_ANNOTATION]: spec.role } } : {}) },
          spec: { nodeName: NODE_NAME, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
        },
      });
      // No kubelet runs: the status a kubelet would report is written here.
      await core.patchNamespacedPodStatus({
        name: spec.name,
        namespace: spec.namespace,
        body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: slot.ip, podIPs: [{ ip: slot.ip }] } }],
      });
      return { namespace: spec.namespace, name: spec.name, role: spec.role ?? '', ip: slot.ip, uid: created.metadata!.uid!, slot };
    };

    const runInPod = (pod: WorldPod, checks: Check[], runOpts: { exportCredentials?: boolean } = {}): Promise<PodRun> => {
      const plan: PodPlan = { region: moto.region, endpoint: network.podMotoEndpoint, checks, ...(runOpts.exportCredentials ? { exportCredentials: true } : {}) };
      const cmd = pod.slot.node(['--import', 'tsx', path.join(repoRoot, 'demo/pod-client.ts'), Buffer.from(JSON.stringify(plan)).toString('base64')]);
      return new Promise((resolve) => {
        execFile(
          cmd.command,
          cmd.args,
          { cwd: repoRoot, env: cleanEnv({ ...cmd.env, HOME: home, AWS_REGION: moto.region }), timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 1 << 20 },
          (err, stdout, stderr) => {
            const line = stdout.trim().split('\n').pop() ?? '';
            try {
              resolve(JSON.parse(line) as PodRun);
            } catch {
              const why = err ? `${err.message.split('\n')[0]}` : 'no JSON line';
              resolve({ ok: false, checks: [], error: `pod process: ${why}; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
            }
          },
        );
      });
    };

    const waitForIndexed = async (count: number, timeoutMs = 10_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; Date.now() < deadline && i < 400; i++) {
        if (((await metric('podiam_proxy_pods_indexed')) ?? 0) >= count) return;
        await sleep(50);
      }
      throw new DemoError(`the proxy did not index ${count} pods within ${timeoutMs} ms; check that the pods carry spec.nodeName ${NODE_NAME} and a podIP.`);
    };

    const world: World = {
      mode,
      cluster,
      moto,
      kube,
      imds,
      account,
      admin,
      core,
      reconcileDeps,
      policiesDir,
      publish: async (dir = policiesDir) => {
        const bundle = checkedBundle({ dir, cluster }, (text) => progress(text.trimEnd()));
        await uploadBundle(admin.s3, bundle, DEMO_NAMES.bundleBucket, DEMO_NAMES.bundleKey);
        return bundle;
      },
      reconcile: (event) => handler(event),
      bundlePublishedEvent: () => ({
        version: '0',
        id: `demo-${Date.now()}`,
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: moto.accountId,
        time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        region: moto.region,
        resources: [`arn:aws:s3:::${DEMO_NAMES.bundleBucket}`],
        detail: { version: '0', bucket: { name: DEMO_NAMES.bundleBucket }, object: { key: DEMO_NAMES.bundleKey }, reason: 'PutObject' },
      }),
      startProxy: startProxyProcess,
      stopProxy: stopProxyProcess,
      metric,
      createPod,
      runInPod,
      waitForIndexed,
      stop,
    };
    return world;
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}
