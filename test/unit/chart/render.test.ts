// helm template on chart/ with the real helm: every object valid against the Kubernetes schemas,
// the DaemonSet's security and scheduling, RBAC verbs, the webhook, and the proxy's env wiring
// checked by the proxy's own config parser.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, DEFAULT_PASSTHROUGH_PATHS, parseConfig } from '../../../proxy/src/config.ts';
import { ALLOWED_ROLES_ANNOTATION, PERMITTED_ANNOTATION, ROLE_ANNOTATION } from '../../../core/src/annotations.ts';
import {
  allOptionalValues,
  chartDir,
  find,
  helm,
  proxyContainer,
  releaseName,
  releaseNamespace,
  render,
  resolveEnv,
  tryRender,
  validateObject,
  type K8sObject,
} from './chart.ts';

const execFileAsync = promisify(execFile);
const chartMeta = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string; version: string };
const node = { 'spec.nodeName': 'node-a', 'status.hostIP': '192.0.2.10', 'metadata.namespace': releaseNamespace };

interface PodSpecish {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  tolerations?: Array<Record<string, unknown>>;
  securityContext?: { seccompProfile?: { type: string } };
  volumes?: Array<{ name: string; hostPath?: { path: string } }>;
  serviceAccountName?: string;
  imagePullSecrets?: Array<{ name: string }>;
  nodeSelector?: Record<string, string>;
  affinity?: unknown;
  terminationGracePeriodSeconds?: number;
}
interface DaemonSetish {
  spec: {
    selector: { matchLabels: Record<string, string> };
    updateStrategy: { type: string; rollingUpdate: { maxUnavailable: number | string; maxSurge: number | string } };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpecish };
  };
}
interface Webhookish {
  name: string;
  sideEffects: string;
  admissionReviewVersions: string[];
  failurePolicy: string;
  timeoutSeconds: number;
  clientConfig: { url: string; caBundle?: string };
  rules: Array<{ apiGroups: string[]; resources: string[]; operations: string[] }>;
  namespaceSelector: { matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
  matchConditions: Array<{ name: string; expression: string }>;
}

describe('chart with defaults (only clusterName set)', () => {
  let objects: K8sObject[];
  before(async () => {
    objects = await render({ clusterName: 'prod-eu' });
  });

  it('renders the proxy, its RBAC and the test pod, and no optional block', () => {
    const kinds = objects.map((o) => o.kind).sort();
    assert.deepEqual(kinds, ['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Pod', 'ServiceAccount']);
  });

  it('validates every rendered object against the Kubernetes OpenAPI schemas', () => {
    for (const o of objects) validateObject(o);
  });

  it('runs the proxy on every node in the host network with node-critical priority', () => {
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.equal((pod as { automountServiceAccountToken?: boolean }).automountServiceAccountToken, true);
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    assert.equal(ds.spec.updateStrategy.type, 'RollingUpdate');
    assert.equal(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
    assert.equal(ds.spec.updateStrategy.rollingUpdate.maxSurge, 0);
  });

  it('keeps selector labels apart from the full labels', () => {
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.deepEqual(ds.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'podiam', 'app.kubernetes.io/instance': releaseName });
    const podLabels = ds.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(podLabels[k], v);
    assert.equal(podLabels['helm.sh/chart'], `podiam-${chartMeta.version}`);
    assert.equal(podLabels['app.kubernetes.io/version'], chartMeta.appVersion);
  });

  it('grants NET_ADMIN and nothing else, never privileged, read-only root, seccomp RuntimeDefault', () => {
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    const sc = proxyContainer(objects).securityContext;
    assert.ok(sc);
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
    assert.equal(ds.spec.template.spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    // iptables needs an effective capability, which Kubernetes gives only to root (see the template's comment).
    assert.equal(sc.runAsUser, 0);
    const mounts = proxyContainer(objects).volumeMounts ?? [];
    assert.ok(mounts.some((m) => m.mountPath === '/run/xtables.lock'), 'the host xtables lock is shared');
  });

  it('probes /healthz and /readyz on the port that serves them (the metrics port)', () => {
    const c = proxyContainer(objects);
    const metrics = c.ports?.find((p) => p.name === 'metrics');
    assert.equal(metrics?.containerPort, 9181);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
  });

  it('requests resources and caps memory', () => {
    const r = proxyContainer(objects).resources;
    assert.ok(r?.requests?.cpu && r.requests.memory, 'cpu and memory requests');
    assert.ok(r?.limits?.memory, 'a memory limit');
  });

  it('uses the published image at the chart appVersion', () => {
    assert.equal(proxyContainer(objects).image, `ghcr.io/podiam/proxy:${chartMeta.appVersion}`);
  });

  it('gives the ClusterRole only get/list/watch on pods and namespaces, create/patch on events, and get/list/watch on its own DaemonSet', () => {
    const role = find(objects, 'ClusterRole') as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
    const grants = new Set<string>();
    for (const rule of role.rules) {
      for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) grants.add(`${g || 'core'}/${r}:${v}`);
    }
    assert.deepEqual([...grants].sort(), [
      'apps/daemonsets:get',
      'apps/daemonsets:list',
      'apps/daemonsets:watch',
      'core/events:create',
      'core/events:patch',
      'core/namespaces:get',
      'core/namespaces:list',
      'core/namespaces:watch',
      'core/pods:get',
      'core/pods:list',
      'core/pods:watch',
    ]);
  });

  it('grants the DaemonSet read on its own DaemonSet only', () => {
    const role = find(objects, 'ClusterRole') as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[] }> };
    const ds = find(objects, 'DaemonSet');
    const rule = role.rules.find((r) => r.resources.includes('daemonsets'));
    assert.deepEqual(rule?.resourceNames, [ds.metadata.name]);
    const env = resolveEnv(proxyContainer(objects).env ?? [], node);
    assert.equal(env.PODIAM_DAEMONSET_NAME, ds.metadata.name);
    assert.equal(env.PODIAM_NAMESPACE, releaseNamespace);
  });

  it("limits V8's heap to 60 % of the container's memory limit, so a flood is collected before the OOM killer acts", () => {
    const env = resolveEnv(proxyContainer(objects).env ?? [], node);
    assert.equal(env.NODE_OPTIONS, '--max-semi-space-size=2 --max-old-space-size=153', '60 % of the default 256Mi limit');
  });

  it('binds the ClusterRole to the proxy ServiceAccount in the release namespace', () => {
    const sa = find(objects, 'ServiceAccount');
    const binding = find(objects, 'ClusterRoleBinding') as unknown as {
      roleRef: { kind: string; name: string };
      subjects: Array<{ kind: string; name: string; namespace: string }>;
    };
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.equal(binding.roleRef.name, find(objects, 'ClusterRole').metadata.name);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: releaseNamespace }]);
    assert.equal(ds.spec.template.spec.serviceAccountName, sa.metadata.name);
  });

  it('wires env that the proxy parses into its defaults, with the node from the downward API', () => {
    const env = resolveEnv(proxyContainer(objects).env ?? [], node);
    const config = parseConfig(env);
    assert.equal(config.clusterName, 'prod-eu');
    assert.equal(config.nodeName, 'node-a');
    assert.equal(config.hostIp, '192.0.2.10');
    assert.equal(config.listenAddress, '192.0.2.10', 'bound to the node IP, not every interface');
    assert.equal(config.port, 8181);
    assert.equal(config.metricsPort, 9181);
    assert.equal(config.hostInterface, 'eni+');
    assert.equal(config.iptables, true);
    assert.equal(config.awsRegion, undefined);
    assert.equal(config.accountId, undefined);
    assert.deepEqual(config.allowedAccounts, []);
    assert.equal(config.defaultRole, undefined);
    assert.equal(config.requireImdsV2, true);
    assert.deepEqual(config.passthroughPaths, [...DEFAULT_PASSTHROUGH_PATHS]);
    assert.equal(config.stsEndpoint, undefined);
  });

  it('renders a helm test pod with the hook annotation and a pinned image', () => {
    const pod = find(objects, 'Pod') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: Array<{ image: string; args: string[] }> };
    };
    assert.equal(pod.metadata.annotations['helm.sh/hook'], 'test');
    const image = pod.spec.containers[0]!.image;
    assert.match(image, /(:[0-9][\w.-]*|@sha256:[a-f0-9]{64})$/, `pinned, not a floating tag: ${image}`);
    assert.doesNotMatch(image, /:latest$/);
    const env = (pod.spec.containers[0] as unknown as { env: Array<{ name: string; value?: string }> }).env;
    assert.equal(env.find((e) => e.name === 'METADATA_ENDPOINT')?.value, 'http://169.254.169.254');
  });

  it('gives the helm test pod a script that node accepts as an ES module', async () => {
    const pod = find(objects, 'Pod') as unknown as { spec: { containers: Array<{ command: string[]; args: string[] }> } };
    const { command, args } = pod.spec.containers[0]!;
    assert.deepEqual(command, ['/nodejs/bin/node'], 'the distroless node binary, as the image\'s ENTRYPOINT');
    assert.deepEqual(args.slice(0, 2), ['--input-type=module', '-e']);
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-chart-testpod-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'check.mjs');
    writeFileSync(file, args[2]!);
    // Syntax only: running it would send traffic to 169.254.169.254.
    await execFileAsync(process.execPath, ['--check', file], { timeout: 20_000 });
  });

  it('prints NOTES that say how to check from a pod that credentials come through', async () => {
    const r = await helm(['install', releaseName, chartDir, '--dry-run=client', '-n', releaseNamespace, '--set', 'clusterName=prod-eu']);
    assert.ok(r.ok, r.stderr);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    assert.match(notes, new RegExp(`--annotations=${ROLE_ANNOTATION.replace(/\./g, '\\.')}=<service>`));
    assert.match(notes, /sts get-caller-identity/);
    assert.match(notes, /assumed-role\/prod-eu-<namespace>-<service>/);
    assert.match(notes, /helm test podiam -n kube-system/);
  });
});

describe('chart with every optional block on', () => {
  let objects: K8sObject[];
  before(async () => {
    objects = await render(allOptionalValues);
  });

  it('renders the webhook, monitors, dashboard, NetworkPolicy and metrics Service', () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['ValidatingWebhookConfiguration', 'ServiceMonitor', 'ConfigMap', 'NetworkPolicy', 'Service']) {
      assert.ok(kinds.has(k), `${k} rendered`);
    }
  });

  it('validates every rendered object against the Kubernetes and Prometheus Operator schemas', () => {
    for (const o of objects) validateObject(o);
  });

  it('puts commonLabels and commonAnnotations on every object', () => {
    for (const o of objects) {
      assert.equal(o.metadata.labels?.team, 'platform', `${o.kind} ${o.metadata.name} label`);
      assert.equal(o.metadata.annotations?.['example.com/owner'], 'platform', `${o.kind} ${o.metadata.name} annotation`);
    }
  });

  it('makes every proxy setting reachable from values (all of CONFIG_VARIABLES but the kubeconfig)', () => {
    const names = new Set((proxyContainer(objects).env ?? []).map((e) => e.name));
    const missing = CONFIG_VARIABLES.filter((v) => v !== 'PODIAM_KUBECONFIG' && !names.has(v));
    assert.deepEqual(missing, []);
  });

  it('wires each non-default value into the setting the proxy reads', () => {
    const env = resolveEnv(proxyContainer(objects).env ?? [], node);
    const config = parseConfig(env);
    assert.equal(config.awsRegion, 'eu-west-1');
    assert.equal(config.accountId, '111122223333');
    assert.deepEqual(config.allowedAccounts, ['444455556666', '777788889999']);
    assert.equal(config.defaultRole, 'default-reader');
    assert.equal(config.externalId, 'cluster-external-id');
    assert.deepEqual(config.passthroughPaths, ['/latest/meta-data/instance-id', '/latest/meta-data/placement/']);
    assert.equal(config.stsEndpoint, 'https://sts.eu-west-1.amazonaws.com');
    assert.equal(config.listenAddress, '0.0.0.0');
    assert.equal(env.NODE_OPTIONS, '--max-old-space-size=192', 'extraEnv is passed through');
    // The API server refuses an env list that names NODE_OPTIONS twice (a real helm upgrade failed).
    const names = (proxyContainer(objects).env ?? []).map((e) => e.name);
    assert.equal(names.filter((n) => n === 'NODE_OPTIONS').length, 1, 'extraEnv NODE_OPTIONS replaces the chart\'s own');
  });

  it('pins the image by digest when one is given', () => {
    assert.equal(proxyContainer(objects).image, `ghcr.io/podiam/proxy@sha256:${'a'.repeat(64)}`);
  });

  it('adds pod labels, annotations, pull secrets, nodeSelector and affinity to the pods', () => {
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.equal(ds.spec.template.metadata.labels.tier, 'node');
    assert.equal(ds.spec.template.metadata.annotations?.['example.com/scrape'], 'yes');
    assert.deepEqual(ds.spec.template.spec.imagePullSecrets, [{ name: 'registry-creds' }]);
    assert.deepEqual(ds.spec.template.spec.nodeSelector, allOptionalValues.nodeSelector);
    assert.deepEqual(ds.spec.template.spec.affinity, allOptionalValues.affinity);
  });

  it('calls the SAM output URL only for pods that ask for a role, outside kube-system and the release namespace', () => {
    const vwc = find(objects, 'ValidatingWebhookConfiguration') as unknown as { webhooks: Webhookish[] };
    assert.deepEqual(vwc.webhooks.map((h) => h.name), ['pod-role.podiam.io', 'namespace-annotations.podiam.io']);
    const w = vwc.webhooks[0]!;
    assert.equal(w.clientConfig.url, allOptionalValues.webhook.url);
    assert.equal(w.sideEffects, 'NoneOnDryRun');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.timeoutSeconds, 10);
    assert.deepEqual(w.rules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
      // Annotations changed through the status subresource are kept by the API server (issue 11 item 13).
      { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/status'], scope: 'Namespaced' },
    ]);
    const notIn = w.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn');
    assert.ok(notIn);
    assert.deepEqual([...notIn.values].sort(), ['kube-system', 'monitoring']);
    assert.equal(w.matchConditions.length, 1);
    assert.ok(w.matchConditions[0]!.expression.includes(`'${ROLE_ANNOTATION}' in object.metadata.annotations`));
  });

  it('sends namespaces that carry allowed-roles or permitted, on create and update, to the same URL with the same failure policy', () => {
    const vwc = find(objects, 'ValidatingWebhookConfiguration') as unknown as { webhooks: Webhookish[] };
    const [pods, w] = vwc.webhooks as [Webhookish, Webhookish];
    assert.equal(w.name, 'namespace-annotations.podiam.io');
    assert.deepEqual(w.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['namespaces'], scope: 'Cluster' }]);
    assert.equal(w.sideEffects, 'None');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.deepEqual([w.clientConfig, w.failurePolicy, w.timeoutSeconds], [pods.clientConfig, pods.failurePolicy, pods.timeoutSeconds]);
    assert.equal(w.matchConditions.length, 1);
    const expression = w.matchConditions[0]!.expression;
    for (const key of [ALLOWED_ROLES_ANNOTATION, PERMITTED_ANNOTATION]) assert.ok(expression.includes(`'${key}' in object.metadata.annotations`), key);
    assert.ok(expression.startsWith('has(object.metadata.annotations) && ('), expression);
  });

  it('base64-encodes a PEM caBundle', () => {
    const vwc = find(objects, 'ValidatingWebhookConfiguration') as unknown as { webhooks: Webhookish[] };
    const ca = vwc.webhooks[0]!.clientConfig.caBundle;
    assert.equal(Buffer.from(ca ?? '', 'base64').toString('utf8'), allOptionalValues.webhook.caBundle);
  });

  it('points the ServiceMonitor at the metrics Service, and the Service at the proxy pods', () => {
    const svc = find(objects, 'Service') as unknown as { metadata: { labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number }> } };
    const sm = find(objects, 'ServiceMonitor') as unknown as { metadata: { labels: Record<string, string> }; spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> } };
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(ds.spec.template.metadata.labels[k], v);
    assert.equal(sm.spec.endpoints[0]!.port, 'metrics');
    assert.ok(svc.spec.ports.some((p) => p.name === 'metrics' && p.port === 9181));
    assert.equal(sm.metadata.labels.release, 'kube-prometheus-stack');
  });

  it('ships the Grafana dashboard as parseable JSON in the chosen namespace', () => {
    const cm = find(objects, 'ConfigMap') as unknown as { metadata: { namespace: string; labels: Record<string, string> }; data: Record<string, string> };
    assert.equal(cm.metadata.namespace, 'monitoring');
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    const dash = JSON.parse(cm.data['podiam-proxy.json'] ?? '') as { title: string; panels: unknown[] };
    assert.equal(dash.title, 'podiam proxy');
    assert.ok(dash.panels.length > 0);
  });

  it('opens the metadata port to all and the metrics port only to the listed peers', () => {
    const np = find(objects, 'NetworkPolicy') as unknown as { spec: { ingress: Array<{ from?: unknown[]; ports: Array<{ port: number }> }> } };
    const metadata = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 8181));
    const metrics = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 9181));
    assert.equal(metadata?.from, undefined);
    assert.deepEqual(metrics?.from, allOptionalValues.networkPolicy.metricsFrom);
  });
});

describe('chart value switches', () => {
  it('runs as non-root 65532 with no capabilities and no host lock when iptables is off', async () => {
    const objects = await render({ clusterName: 'prod-eu', iptables: false });
    const c = proxyContainer(objects);
    assert.equal(c.securityContext?.runAsNonRoot, true);
    assert.equal(c.securityContext?.runAsUser, 65532);
    assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'] });
    assert.ok(!(c.volumeMounts ?? []).some((m) => m.mountPath === '/run/xtables.lock'));
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.ok(!(ds.spec.template.spec.volumes ?? []).some((v) => v.hostPath), 'no hostPath volume');
    assert.equal(parseConfig(resolveEnv(c.env ?? [], node)).iptables, false);
  });

  it('passes a negated hostInterface and numeric resource quantities through', async () => {
    const objects = await render({ clusterName: 'prod-eu', hostInterface: '!eth0', resources: { requests: { cpu: 0.05, memory: '128Mi' } } });
    const c = proxyContainer(objects);
    assert.equal(parseConfig(resolveEnv(c.env ?? [], node)).hostInterface, '!eth0');
    assert.deepEqual(c.resources?.requests, { cpu: 0.05, memory: '128Mi' });
    for (const o of objects) validateObject(o);
  });

  it('defaults the webhook failurePolicy to Ignore and renders no webhook without a URL', async () => {
    const off = await render({ clusterName: 'prod-eu' });
    assert.ok(!off.some((o) => o.kind === 'ValidatingWebhookConfiguration'));
    const on = await render({ clusterName: 'prod-eu', webhook: { url: 'https://x.lambda-url.us-east-1.on.aws/admit/0123456789abcdef0123456789abcdef' } });
    const w = (find(on, 'ValidatingWebhookConfiguration') as unknown as { webhooks: Webhookish[] }).webhooks[0]!;
    assert.equal(w.failurePolicy, 'Ignore');
    assert.equal(w.clientConfig.caBundle, undefined, 'no caBundle: the system roots trust a Function URL');
    assert.deepEqual(w.namespaceSelector.matchExpressions[0]!.values, ['kube-system']);
  });

  it('passes a caBundle that is already base64 through unchanged', async () => {
    const b64 = Buffer.from('-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n').toString('base64');
    const objects = await render({ clusterName: 'prod-eu', webhook: { url: 'https://x.example/admit/0123456789abcdef0123456789abcdef', caBundle: b64 } });
    const w = (find(objects, 'ValidatingWebhookConfiguration') as unknown as { webhooks: Webhookish[] }).webhooks[0]!;
    assert.equal(w.clientConfig.caBundle, b64);
  });

  it('uses an existing ServiceAccount and creates no RBAC when told so', async () => {
    const objects = await render({ clusterName: 'prod-eu', serviceAccount: { create: false, name: 'node-proxy' }, rbac: { create: false } });
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['DaemonSet', 'Pod']);
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.equal(ds.spec.template.spec.serviceAccountName, 'node-proxy');
  });

  it('refuses to render without clusterName, naming the value and the fix', async () => {
    const r = await tryRender({});
    assert.equal(r.ok, false);
    assert.match(r.stderr, /clusterName is required: install with --set clusterName=<name>/);
  });

  it('refuses index and credential waits that together exceed the SDKs\' one second', async () => {
    const r = await tryRender({ clusterName: 'a', indexWaitMs: 500, credentialsWaitMs: 500 });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /indexWaitMs \(500\) \+ credentialsWaitMs \(500\) is over 950 ms/);
  });

  it('refuses a shutdown drain as long as the termination grace period', async () => {
    const r = await tryRender({ clusterName: 'a', shutdownGraceMs: 30000, terminationGracePeriodSeconds: 30 });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /shutdownGraceMs \(30000\) must be shorter than terminationGracePeriodSeconds \(30 s\)/);
  });

  it('renders a PodMonitor alone that selects the proxy pods, and no metrics Service', async () => {
    const objects = await render({ clusterName: 'prod-eu', podMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } } });
    for (const o of objects) validateObject(o);
    assert.ok(!objects.some((o) => o.kind === 'Service' || o.kind === 'ServiceMonitor'));
    const pm = find(objects, 'PodMonitor') as unknown as { metadata: { labels: Record<string, string> }; spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string }> } };
    const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
    assert.deepEqual(pm.spec.selector.matchLabels, ds.spec.selector.matchLabels);
    assert.equal(pm.spec.podMetricsEndpoints[0]!.port, 'metrics');
    assert.equal(pm.metadata.labels.release, 'kube-prometheus-stack');
  });

  it('refuses a ServiceMonitor and a PodMonitor together, which would scrape every proxy twice', async () => {
    const r = await tryRender({ clusterName: 'a', serviceMonitor: { enabled: true }, podMonitor: { enabled: true } });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /serviceMonitor\.enabled and podMonitor\.enabled are both true: Prometheus would scrape every proxy twice/);
  });

  // A pod that matches a DaemonSet's selector and has no controller is adopted by the DaemonSet
  // controller, which then counts (and may delete) it as the node's proxy; the PodMonitor scrapes it.
  it('keeps the helm test pod out of the DaemonSet selector, which stays name and instance', async () => {
    for (const values of [{ clusterName: 'a' }, { clusterName: 'a', nameOverride: 'iam-proxy' }]) {
      const objects = await render(values);
      const ds = find(objects, 'DaemonSet') as unknown as DaemonSetish;
      const name = values.nameOverride ?? 'podiam';
      assert.deepEqual(ds.spec.selector.matchLabels, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': releaseName });
      const testPod = objects.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
      assert.ok(testPod, 'the helm test pod is rendered');
      const labels = testPod.metadata.labels ?? {};
      const matches = Object.entries(ds.spec.selector.matchLabels).every(([k, v]) => labels[k] === v);
      assert.equal(matches, false, `test pod labels ${JSON.stringify(labels)} match the DaemonSet selector`);
      assert.equal(labels['app.kubernetes.io/instance'], releaseName, 'still found by the release label');
      assert.equal(labels['app.kubernetes.io/component'], 'test');
    }
  });

  it('refuses the same port for metadata and metrics', async () => {
    const r = await tryRender({ clusterName: 'a', port: 9000, metricsPort: 9000 });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /port and metricsPort are both 9000/);
  });
});
