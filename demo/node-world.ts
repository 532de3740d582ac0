/**
 * The demo's story on a real node (issue 12): the same account, policies and reconcile as
 * demo/world.ts, but the proxy is the chart's DaemonSet, run by a real kubelet and containerd from
 * the image proxy/Dockerfile builds, and the pods are real containers of an application image
 * (AWS SDK for JavaScript v3 and botocore) on the CNI bridge of test/peers/node.ts.
 *
 * What lives where: moto, the metadata mock and the admission webhook (the admission Lambda's own
 * handler over TLS) run on the root namespace's loopback; the node namespace reaches moto at
 * MOTO_INSIDE and the metadata mock at 169.254.169.254:80 (its real address on a node) through the
 * node's socket bridge, so nothing is added to the root namespace's network.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uploadBundle } from '../cli/src/bundle/publish.ts';
import { checkedBundle } from '../cli/src/commands/publish-command.ts';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../functions/admission/local-server.ts';
import type { Logger } from '../functions/lib/log.ts';
import { createReconcileHandler, type ReconcileResult } from '../functions/reconcile/handler.ts';
import { ensureImages, type BuiltImage } from '../test/peers/images.ts';
import { startImdsMock, type ImdsMock } from '../test/peers/imds.ts';
import { startMoto, type MotoPeer } from '../test/peers/moto.ts';
import { startNode, type KubeNode } from '../test/peers/node.ts';
import { containerdPaths, ctr } from '../test/peers/node/containerd.ts';
import { requireTool } from '../test/peers/tools.ts';
import { adminClients, demoFunctionsConfig, prepareAccount, type AdminClients, type DemoAccount } from './aws-account.ts';
import { DEMO_NAMES } from './checks.ts';
import { DemoError } from './errors.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** moto (STS for the proxy and the pods' SDKs), as the node namespace sees it. */
export const MOTO_INSIDE = '203.0.113.252:4566';
/** The metadata service's own address; inside the node namespace only. */
export const IMDS_INSIDE = '169.254.169.254:80';
export const RELEASE = 'podiam';
export const RELEASE_NAMESPACE = 'podiam-system';

export interface RunResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface NodeWorldOptions {
  progress?: (line: string) => void;
  functionsLog?: Logger;
}

export interface AppPodSpec {
  namespace: string;
  name: string;
  /** The iam.amazonaws.com/role annotation; none when absent. */
  role?: string;
  /** More annotations (e.g. podiam.io/token-identity: "true"). */
  annotations?: Record<string, string>;
}

export interface NodeWorld {
  node: KubeNode;
  moto: MotoPeer;
  imds: ImdsMock;
  account: DemoAccount;
  admin: AdminClients;
  admission: LocalAdmissionServer;
  images: { proxy: BuiltImage; app: BuiltImage };
  /** The CNI bridge the pods are on: the chart's hostInterface. */
  hostInterface: string;
  kubectl(args: string[], input?: string): Promise<RunResult>;
  helm(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** The chart's values for this node, with `overrides` merged over the top level. */
  chartValues(overrides?: Record<string, unknown>): Record<string, unknown>;
  /** helm upgrade --install of chart/ with chartValues(overrides). */
  installChart(overrides?: Record<string, unknown>): Promise<RunResult>;
  /** Creates an application pod (the app image, idle) and waits until it runs; returns its IP. */
  createAppPod(spec: AppPodSpec): Promise<string>;
  /** kubectl exec into an application pod (bounded). */
  execInPod(namespace: string, name: string, command: string[], timeoutMs?: number): Promise<RunResult>;
  /** Tags an imported image under another reference in the node's containerd. */
  tagImage(from: string, to: string): Promise<void>;
  reconcile(event: unknown): Promise<ReconcileResult>;
  stop(): Promise<void>;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { cwd: repoRoot, env, timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) ?? 1 : 0;
      resolve({ ok: !err, code: typeof code === 'number' ? code : 1, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An application pod: the app image idling, on this node, with no service-account token (it needs none). */
export function appPodManifest(spec: AppPodSpec, image: string, motoInside = MOTO_INSIDE): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: spec.name, namespace: spec.namespace, ...(spec.role || spec.annotations ? { annotations: { ...spec.annotations, ...(spec.role ? { 'iam.amazonaws.com/role': spec.role } : {}) } } : {}) },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'app',
          image,
          imagePullPolicy: 'Never',
          // The SDKs' own default chains: no AWS_* credentials, so both end at 169.254.169.254.
          env: [
            { name: 'AWS_REGION', value: 'us-east-1' },
            { name: 'AWS_ENDPOINT_URL_STS', value: `http://${motoInside}` },
          ],
        },
      ],
    },
  };
}

export async function startNodeWorld(opts: NodeWorldOptions = {}): Promise<NodeWorld> {
  const progress = opts.progress ?? (() => {});
  const cluster = DEMO_NAMES.cluster;
  const undo: Array<() => Promise<unknown> | unknown> = [];
  const stop = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // Best effort from here on: keep undoing the rest.
      }
    }
  };
  try {
    const t0 = Date.now();
    const [motoR, imagesR] = await Promise.allSettled([startMoto({ enforceIam: true }), ensureImages('proxy', 'app')]);
    if (motoR.status === 'fulfilled') undo.push(() => motoR.value.stop());
    if (motoR.status === 'rejected') throw motoR.reason;
    if (imagesR.status === 'rejected') throw imagesR.reason;
    const moto = motoR.value;
    const images = imagesR.value;
    progress(`moto ready; images ${images.proxy.ref} and ${images.app.ref} ${images.proxy.status === 'cached' && images.app.status === 'cached' ? 'cached' : 'built'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    const admin = adminClients(moto);
    undo.push(() => admin.destroy());
    const bundle = checkedBundle({ dir: path.join(repoRoot, 'policies'), cluster }, () => {});
    const account = await prepareAccount(moto, admin, { cluster, boundaryArn: bundle.guardrails.permissionsBoundaryArn });
    await uploadBundle(admin.s3, bundle, DEMO_NAMES.bundleBucket, DEMO_NAMES.bundleKey);
    const imds = await startImdsMock({ role: { name: account.nodeRoleName, credentials: account.nodeCredentials } });
    undo.push(() => imds.stop());

    const boundary = bundle.guardrails.permissionsBoundaryArn;
    const config = demoFunctionsConfig(moto, account, { cluster, boundaryArn: boundary });
    const reconcileHandler = createReconcileHandler({ iam: admin.iam, s3: admin.s3, config, accountId: async () => moto.accountId, log: opts.functionsLog ?? (() => {}) });
    // The hourly schedule's event, as EventBridge sends it (events/), creates every role of the bundle.
    const reconciled = await reconcileHandler(JSON.parse(readFileSync(path.join(repoRoot, 'events/reconcile-scheduled.json'), 'utf8')));
    if ('ignored' in reconciled) throw new DemoError(`reconcile ignored the scheduled event: ${reconciled.ignored}`);
    progress(`policies/ published and reconciled: ${bundle.services.length} roles for cluster ${cluster}`);

    const motoPort = new URL(moto.endpoint).port;
    const imdsPort = new URL(imds.endpoint).port;
    const node = await startNode({
      expose: [
        { listen: MOTO_INSIDE, target: `127.0.0.1:${motoPort}` },
        { listen: IMDS_INSIDE, target: `127.0.0.1:${imdsPort}` },
      ],
    });
    undo.push(() => node.stop());
    progress(`node ${node.nodeName} Ready in ${(node.upMs / 1000).toFixed(1)} s (kubelet + containerd in network namespace ${node.netns})`);
    // Imported into the node's own containerd root (under its scratch directory): stop() removes them with it.
    for (const image of [images.proxy, images.app]) await node.importImage(image.archive);

    // The admission Lambda's handler as the cluster's webhook, over TLS with a certificate of the cluster's CA.
    const cert = await node.kube.issueServingCert({ ips: ['127.0.0.1'] });
    const admission = await startLocalAdmissionServer({
      key: cert.keyPem,
      cert: cert.certPem,
      log: opts.functionsLog ?? (() => {}),
      env: {
        PODIAM_CLUSTER_NAME: cluster,
        PODIAM_INTERMEDIATE_ROLE_ARNS: account.nodeRoleArn,
        PODIAM_BUNDLE_BUCKET: DEMO_NAMES.bundleBucket,
        PODIAM_BUNDLE_KEY: DEMO_NAMES.bundleKey,
        ...(boundary ? { PODIAM_PERMISSIONS_BOUNDARY_ARN: boundary } : { PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: 'I-understand-roles-have-no-boundary' }),
        PODIAM_AWS_ENDPOINT: moto.endpoint,
        PODIAM_ACCOUNT_ID: moto.accountId,
        AWS_REGION: moto.region,
        AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        PODIAM_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
      },
    });
    undo.push(() => admission.stop());

    const home = mkdtempSync(path.join(tmpdir(), 'podiam-node-world-'));
    undo.push(() => rmSync(home, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      KUBECONFIG: node.kubeconfigPath,
      HELM_CACHE_HOME: path.join(home, 'helm-cache'),
      HELM_CONFIG_HOME: path.join(home, 'helm-config'),
      HELM_DATA_HOME: path.join(home, 'helm-data'),
    };
    const kubectlBin = requireTool('kubectl');
    const helmBin = requireTool('helm');
    const kubectl = (args: string[], input?: string) => run(kubectlBin, args, env, input === undefined ? {} : { input });
    const helm = (args: string[], timeoutMs = 180_000) => run(helmBin, args, env, { timeoutMs });

    const [repository, tag] = splitRef(images.proxy.ref);
    const chartValues = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
      clusterName: cluster,
      image: { repository, tag, pullPolicy: 'Never' },
      hostInterface: node.bridge,
      awsRegion: moto.region,
      accountId: moto.accountId,
      stsEndpoint: `http://${MOTO_INSIDE}`,
      iptablesCheckIntervalMs: 1000,
      webhook: { url: admission.url, caBundle: cert.caPem },
      ...overrides,
    });
    const installChart = async (overrides: Record<string, unknown> = {}): Promise<RunResult> => {
      const file = path.join(home, `values-${Date.now()}.json`);
      writeFileSync(file, JSON.stringify(chartValues(overrides)));
      return helm(['upgrade', '--install', RELEASE, path.join(repoRoot, 'chart'), '-n', RELEASE_NAMESPACE, '--create-namespace', '--values', file, '--wait', '--timeout', '120s']);
    };

    const namespaces = new Set<string>();
    const createAppPod = async (spec: AppPodSpec): Promise<string> => {
      if (!namespaces.has(spec.namespace)) {
        const made = await kubectl(['create', 'namespace', spec.namespace]);
        if (!made.ok && !/AlreadyExists/.test(made.stderr)) throw new DemoError(`kubectl create namespace ${spec.namespace}: ${made.stderr.trim()}`);
        namespaces.add(spec.namespace);
      }
      const created = await kubectl(['apply', '-f', '-'], JSON.stringify(appPodManifest(spec, images.app.ref)));
      if (!created.ok) throw new DemoError(`creating pod ${spec.namespace}/${spec.name}: ${created.stderr.trim()}`);
      const ready = await kubectl(['wait', '--for=condition=Ready', `pod/${spec.name}`, '-n', spec.namespace, '--timeout=90s']);
      if (!ready.ok) throw new DemoError(`pod ${spec.namespace}/${spec.name} did not become Ready: ${ready.stderr.trim()}`);
      const ip = await kubectl(['get', 'pod', spec.name, '-n', spec.namespace, '-o', 'jsonpath={.status.podIP}']);
      return ip.stdout.trim();
    };
    const execInPod = (namespace: string, name: string, command: string[], timeoutMs = 60_000) =>
      run(kubectlBin, ['exec', '-n', namespace, name, '--', ...command], env, { timeoutMs });

    return {
      node,
      moto,
      imds,
      account,
      admin,
      admission,
      images,
      hostInterface: node.bridge,
      kubectl,
      helm,
      chartValues,
      installChart,
      createAppPod,
      execInPod,
      tagImage: async (from, to) => {
        await ctr(containerdPaths(node.scratchDir).socket, ['images', 'tag', '--force', from, to]);
      },
      reconcile: (event) => reconcileHandler(event),
      stop,
    };
  } catch (err: unknown) {
    await stop();
    throw err;
  }
}

/** `registry/name:tag` → [`registry/name`, `tag`]. */
export function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  if (at <= ref.lastIndexOf('/')) throw new DemoError(`image reference '${ref}' has no tag`);
  return [ref.slice(0, at), ref.slice(at + 1)];
}

export { sleep };
