// Shared by the chart tests: run the real helm on chart/, parse what it renders, and validate each
// object against the Kubernetes OpenAPI schemas (kubernetes-models) — an unknown kind fails.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodMonitor, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { requireTool } from '../../peers/tools.ts';

const execFileAsync = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, '../../..');
export const chartDir = path.join(repoRoot, 'chart');
export const releaseName = 'podiam';
export const releaseNamespace = 'kube-system';

/** A Kubernetes object as helm rendered it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Every optional block on, with values that exercise each template branch. */
export const allOptionalValues = {
  clusterName: 'prod-eu',
  commonLabels: { team: 'platform' },
  commonAnnotations: { 'example.com/owner': 'platform' },
  podLabels: { tier: 'node' },
  podAnnotations: { 'example.com/scrape': 'yes' },
  imagePullSecrets: [{ name: 'registry-creds' }],
  image: { digest: `sha256:${'a'.repeat(64)}` },
  awsRegion: 'eu-west-1',
  accountId: '111122223333',
  allowedAccounts: ['444455556666', '777788889999'],
  defaultRole: 'default-reader',
  externalId: 'cluster-external-id',
  passthroughPaths: ['/latest/meta-data/instance-id', '/latest/meta-data/placement/'],
  stsEndpoint: 'https://sts.eu-west-1.amazonaws.com',
  listenAddress: '0.0.0.0',
  extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=192' }],
  serviceAccount: { annotations: { 'example.com/sa': 'yes' } },
  nodeSelector: { 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'm6i.large' },
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'eks.amazonaws.com/compute-type', operator: 'NotIn', values: ['fargate'] }] }],
      },
    },
  },
  webhook: {
    url: 'https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/admit/s3cr3t-0123456789abcdef0123456789abcdef',
    caBundle: '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n',
    failurePolicy: 'Fail',
    excludeNamespaces: ['monitoring'],
  },
  tokenIdentity: { enabled: true, audience: 'podiam.prod-eu', port: 8183, issuer: 'https://oidc.example.com/prod-eu', failurePolicy: 'Fail', namespaceLabel: 'example.com/token-identity' },
  serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
  // podMonitor is the alternative to serviceMonitor; the chart refuses both (render.test.ts renders it alone).
  grafanaDashboard: { enabled: true, namespace: 'monitoring', annotations: { grafana_folder: 'Security' } },
  networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] },
} as const;

export interface HelmResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs the real helm; never throws on a non-zero exit (tests assert on it). Bounded by a timeout. */
export async function helm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<HelmResult> {
  const bin = requireTool('helm');
  try {
    const { stdout, stderr } = await execFileAsync(bin, args, {
      cwd: repoRoot,
      timeout: 120_000,
      maxBuffer: 32 * 1024 * 1024,
      env: { ...process.env, HELM_CACHE_HOME: path.join(tmpdir(), 'podiam-helm-cache'), ...env },
    });
    return { ok: true, stdout, stderr };
  } catch (err: unknown) {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message ?? String(err) };
  }
}

/** Writes values to a temp file (removed right away after helm read it) and runs helm with `-f` on it. */
export async function withValuesFile<T>(values: object, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-chart-values-'));
  try {
    const file = path.join(dir, 'values.yaml');
    // JSON is YAML too, and leaves nothing to YAML 1.1's guessing (helm would read `yes` as true).
    writeFileSync(file, JSON.stringify(values));
    return await fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template` with the given values; throws with helm's stderr when rendering fails. */
export async function render(values: object, extraArgs: string[] = []): Promise<K8sObject[]> {
  const r = await tryRender(values, extraArgs);
  if (!r.ok) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

export async function tryRender(values: object, extraArgs: string[] = []): Promise<HelmResult> {
  return withValuesFile(values, (file) =>
    helm(['template', releaseName, chartDir, '--namespace', releaseNamespace, '--values', file, ...extraArgs]),
  );
}

export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) out.push(obj);
  }
  return out;
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hit = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` named ${name}` : ''} among ${objects.map((o) => o.kind).join(', ')}`);
  return hit;
}

type Validator = new (data: never) => { validate(): void };
const models: Record<string, Validator> = {
  'apps/v1/DaemonSet': DaemonSet as unknown as Validator,
  'v1/ConfigMap': ConfigMap as unknown as Validator,
  'v1/Pod': Pod as unknown as Validator,
  'v1/Service': Service as unknown as Validator,
  'v1/ServiceAccount': ServiceAccount as unknown as Validator,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as unknown as Validator,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as unknown as Validator,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration as unknown as Validator,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration as unknown as Validator,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as Validator,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as Validator,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor as unknown as Validator,
};

/** Validates one object against its OpenAPI schema; throws naming the object and the schema error. */
export function validateObject(obj: K8sObject): void {
  const Model = models[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema model for ${obj.apiVersion} ${obj.kind} (${obj.metadata?.name}); add it to test/unit/chart/chart.ts`);
  try {
    new Model(obj as never).validate();
  } catch (err: unknown) {
    throw new Error(`${obj.kind} ${obj.metadata.name} does not match the ${obj.apiVersion} schema: ${(err as Error).message}`, { cause: err });
  }
}

/** The proxy container of the rendered DaemonSet. */
export function proxyContainer(objects: K8sObject[]): Container {
  const ds = find(objects, 'DaemonSet') as unknown as { spec: { template: { spec: { containers: Container[] } } } };
  const c = ds.spec.template.spec.containers.find((x) => x.name === 'proxy');
  if (!c) throw new Error('the DaemonSet has no container named proxy');
  return c;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  env?: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  securityContext?: {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

/**
 * The proxy's environment as a node would see it: plain values as rendered, downward-API fields
 * resolved to what the kubelet would put there.
 */
export function resolveEnv(env: EnvVar[], downward: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of env) {
    if (v.value !== undefined) out[v.name] = v.value;
    else if (v.valueFrom?.fieldRef) {
      const field = downward[v.valueFrom.fieldRef.fieldPath];
      if (field === undefined) throw new Error(`env ${v.name} reads ${v.valueFrom.fieldRef.fieldPath}, which the test's node does not provide`);
      out[v.name] = field;
    }
  }
  return out;
}
