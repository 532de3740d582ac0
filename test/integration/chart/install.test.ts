// The chart against a real kube-apiserver (+etcd): helm upgrade --install, helm upgrade with a changed
// value, helm uninstall — each checked by reading what the server stored — and a server-side dry run
// (strict field validation and admission) of the render with every optional block on.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startKube, startNode, nodeSkipReason, type Kube } from '../../peers/index.ts';
import { allOptionalValues, chartDir, parseManifests, releaseName, releaseNamespace, withValuesFile } from '../../unit/chart/chart.ts';
import { clients } from './cluster.ts';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface StoredDaemonSet {
  metadata: { generation: number; labels: Record<string, string> };
  spec: {
    updateStrategy: { rollingUpdate: { maxUnavailable: number | string; maxSurge: number | string } };
    template: {
      spec: {
        hostNetwork: boolean;
        dnsPolicy: string;
        priorityClassName: string;
        priority?: number;
        serviceAccountName: string;
        securityContext: { seccompProfile?: { type: string } };
        containers: Array<{
          name: string;
          env: EnvVar[];
          securityContext: { privileged: boolean; allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { add: string[]; drop: string[] } };
        }>;
      };
    };
  };
}

const envOf = (ds: StoredDaemonSet): Record<string, string | undefined> =>
  Object.fromEntries(ds.spec.template.spec.containers[0]!.env.map((e) => [e.name, e.value ?? `<${e.valueFrom?.fieldRef?.fieldPath}>`]));

// The same checks on a plain API server (fast) and on a real node (issue 12): there the kubelet also
// runs the DaemonSet's pod (its image is not imported: the pod waits for it, which changes nothing
// stored), and the controllers add what a real cluster adds.
const targets: Array<[string, () => Promise<Kube>, false | string]> = [
  ['a real API server', () => startKube(), false],
  [
    'a real node (kubelet, containerd, controller manager)',
    async () => {
      const node = await startNode();
      return { ...node.kube, stop: async () => void (await node.stop()) };
    },
    nodeSkipReason(),
  ],
];

for (const [target, start, skip] of targets) describe(`helm install, upgrade and uninstall against ${target}`, { skip }, () => {
  let kube: Kube;
  let c: ReturnType<typeof clients>;

  before(async () => {
    kube = await start();
    c = clients(kube);
  });
  after(async () => {
    await kube?.stop();
  });

  it('installs with only clusterName set, and the server stores the proxy as rendered', async () => {
    const r = await c.helm(['upgrade', '--install', releaseName, chartDir, '-n', releaseNamespace, '--set', 'clusterName=prod-eu']);
    assert.ok(r.ok, r.stderr);
    const ds = await c.getJson<StoredDaemonSet>(['daemonset', releaseName, '-n', releaseNamespace]);
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
    const sc = pod.containers[0]!.securityContext;
    assert.equal(sc.privileged, false);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities, { add: ['NET_ADMIN'], drop: ['ALL'] });
    const env = envOf(ds);
    assert.equal(env.PODIAM_CLUSTER_NAME, 'prod-eu');
    assert.equal(env.PODIAM_NODE_NAME, '<spec.nodeName>');
    assert.equal(env.PODIAM_HOST_IP, '<status.hostIP>');
    assert.equal(env.PODIAM_LOG_LEVEL, 'info');
    assert.equal(ds.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
    assert.equal(ds.spec.updateStrategy.rollingUpdate.maxSurge, 0);
  });

  it('stores RBAC with only the verbs the proxy needs, bound to its ServiceAccount', async () => {
    const role = await c.getJson<{ rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>(['clusterrole', releaseName]);
    const verbs = role.rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));
    assert.deepEqual([...new Set(verbs)].sort(), ['daemonsets:get', 'daemonsets:list', 'daemonsets:watch', 'events:create', 'events:patch', 'namespaces:get', 'namespaces:list', 'namespaces:watch', 'pods:get', 'pods:list', 'pods:watch']);
    const binding = await c.getJson<{ subjects: Array<{ name: string; namespace: string }> }>(['clusterrolebinding', releaseName]);
    assert.deepEqual(binding.subjects.map((s) => `${s.namespace}/${s.name}`), [`${releaseNamespace}/${releaseName}`]);
    await c.getJson(['serviceaccount', releaseName, '-n', releaseNamespace]);
    // The binding really grants it: ask the server's authorizer as that ServiceAccount.
    const sa = `system:serviceaccount:${releaseNamespace}:${releaseName}`;
    for (const [verb, resource, expected] of [
      ['watch', 'pods', 'yes'],
      ['list', 'namespaces', 'yes'],
      ['create', 'events', 'yes'],
      ['get', 'secrets', 'no'],
      ['delete', 'pods', 'no'],
      ['patch', 'pods', 'no'],
    ] as const) {
      const r = await c.kubectl(['auth', 'can-i', verb, resource, '--all-namespaces', '--as', sa]);
      assert.equal(r.stdout.trim(), expected, `${sa} can-i ${verb} ${resource}`);
    }
  });

  it('upgrades with changed values: the server stores the new env and helm records revision 2', async () => {
    const before = await c.getJson<StoredDaemonSet>(['daemonset', releaseName, '-n', releaseNamespace]);
    const r = await c.helm([
      'upgrade', releaseName, chartDir, '-n', releaseNamespace, '--reuse-values',
      '--set', 'logLevel=debug', '--set', 'hostInterface=cali+', '--set', 'maxUnavailable=25%',
    ]);
    assert.ok(r.ok, r.stderr);
    const ds = await c.getJson<StoredDaemonSet>(['daemonset', releaseName, '-n', releaseNamespace]);
    const env = envOf(ds);
    assert.equal(env.PODIAM_LOG_LEVEL, 'debug');
    assert.equal(env.PODIAM_HOST_INTERFACE, 'cali+');
    assert.equal(env.PODIAM_CLUSTER_NAME, 'prod-eu', 'reused');
    assert.equal(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, '25%');
    assert.equal(ds.metadata.generation, before.metadata.generation + 1);
    const history = JSON.parse((await c.helm(['history', releaseName, '-n', releaseNamespace, '-o', 'json'])).stdout) as Array<{ revision: number; status: string }>;
    assert.deepEqual(history.map((h) => [h.revision, h.status]), [[1, 'superseded'], [2, 'deployed']]);
  });

  it('refuses an upgrade with a bad value and leaves the release as it was', async () => {
    const r = await c.helm(['upgrade', releaseName, chartDir, '-n', releaseNamespace, '--reuse-values', '--set', 'webhook.failurePolicy=Sometimes']);
    assert.equal(r.ok, false);
    assert.match(r.stderr, /at '\/webhook\/failurePolicy'/);
    const history = JSON.parse((await c.helm(['history', releaseName, '-n', releaseNamespace, '-o', 'json'])).stdout) as unknown[];
    assert.equal(history.length, 2);
    assert.equal((await c.kubectl(['get', 'validatingwebhookconfigurations', '-o', 'name'])).stdout.trim(), '');
  });

  // The DaemonSet's selector is immutable and nameOverride is part of it; fullnameOverride renames the
  // DaemonSet, so a second proxy DaemonSet would start beside the old one, whose proxies then remove
  // the iptables rules when it is deleted. The chart looks the installed DaemonSet up and refuses.
  for (const [value, newName, newSelector] of [
    ['nameOverride=other', 'podiam-other', 'app.kubernetes.io/instance=podiam,app.kubernetes.io/name=other'],
    ['fullnameOverride=iam-proxy', 'iam-proxy', 'app.kubernetes.io/instance=podiam,app.kubernetes.io/name=podiam'],
  ] as const) {
    it(`refuses an upgrade with ${value}, naming the old and new DaemonSet and the fix, and leaves the release as it was`, async () => {
      const r = await c.helm(['upgrade', releaseName, chartDir, '-n', releaseNamespace, '--reuse-values', '--set', value]);
      assert.equal(r.ok, false);
      assert.match(r.stderr, /release podiam already runs DaemonSet podiam with selector app\.kubernetes\.io\/instance=podiam,app\.kubernetes\.io\/name=podiam;/);
      assert.ok(r.stderr.includes(`this upgrade would make it DaemonSet ${newName} with selector ${newSelector},`), r.stderr);
      assert.match(r.stderr, /Keep nameOverride and fullnameOverride as installed \(see helm get values podiam -n kube-system\), or helm uninstall podiam -n kube-system and install again/);
      const history = JSON.parse((await c.helm(['history', releaseName, '-n', releaseNamespace, '-o', 'json'])).stdout) as Array<{ revision: number; status: string }>;
      assert.deepEqual(history.map((h) => [h.revision, h.status]), [[1, 'superseded'], [2, 'deployed']]);
      const daemonSets = await c.getJson<{ items: Array<{ metadata: { name: string }; spec: { selector: { matchLabels: Record<string, string> } } }> }>(['daemonsets', '-n', releaseNamespace]);
      assert.deepEqual(
        daemonSets.items.map((d) => [d.metadata.name, d.spec.selector.matchLabels]),
        [['podiam', { 'app.kubernetes.io/instance': 'podiam', 'app.kubernetes.io/name': 'podiam' }]],
      );
    });
  }

  // Every kind the chart can make that this API server can store: the webhook, the dashboard
  // ConfigMap in another namespace and the NetworkPolicy, beside the DaemonSet and its RBAC. The
  // Prometheus Operator's CRDs are not installed here, so ServiceMonitor/PodMonitor cannot be; the
  // check after uninstall lists every listable kind the server has, so it covers them where they are.
  const RELEASE_KINDS = ['daemonsets', 'serviceaccounts', 'clusterroles', 'clusterrolebindings', 'configmaps', 'networkpolicies', 'validatingwebhookconfigurations', 'mutatingwebhookconfigurations'];
  const selector = `app.kubernetes.io/instance=${releaseName}`;

  it('upgrades to every optional block the server can store, each object carrying the release label', async () => {
    const ns = await c.kubectl(['create', 'namespace', 'monitoring']);
    assert.ok(ns.ok || /AlreadyExists/.test(ns.stderr), ns.stderr);
    // extraEnv is left out: its NODE_OPTIONS duplicates the chart's own, which a helm upgrade's typed patch refuses.
    const { serviceMonitor: _crdOnly, extraEnv: _duplicateEnv, ...storable } = allOptionalValues;
    const r = await withValuesFile(storable, (file) => c.helm(['upgrade', releaseName, chartDir, '-n', releaseNamespace, '--values', file]));
    assert.ok(r.ok, r.stderr);
    const listed = await c.kubectl(['get', RELEASE_KINDS.join(','), '-A', '-l', selector, '-o', 'name']);
    assert.ok(listed.ok, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n').map((l) => l.split('/')[0]).sort(), [
      'clusterrole.rbac.authorization.k8s.io',
      'clusterrolebinding.rbac.authorization.k8s.io',
      // tokenIdentity: the proxy's binding to system:service-account-issuer-discovery.
      'clusterrolebinding.rbac.authorization.k8s.io',
      'configmap',
      'daemonset.apps',
      'mutatingwebhookconfiguration.admissionregistration.k8s.io',
      'networkpolicy.networking.k8s.io',
      'serviceaccount',
      'validatingwebhookconfiguration.admissionregistration.k8s.io',
    ]);
  });

  it('uninstalls every object it created, cluster-scoped ones included: nothing of any kind keeps the release label', async () => {
    const r = await c.helm(['uninstall', releaseName, '-n', releaseNamespace, '--wait', '--timeout', '60s']);
    assert.ok(r.ok, r.stderr);
    // On a node the garbage collector deletes the DaemonSet's pod after the DaemonSet, and the kubelet
    // stops it: wait (bounded) for it to go.
    for (let i = 0; i < 120; i++) {
      const pods = await c.kubectl(['get', 'pods', '-A', '-l', selector, '-o', 'name']);
      if (pods.ok && pods.stdout.trim() === '') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const left = await c.kubectl(['get', [...RELEASE_KINDS, 'pods'].join(','), '-A', '-l', selector, '-o', 'name']);
    assert.ok(left.ok, left.stderr);
    assert.equal(left.stdout.trim(), '');
    // Every kind the server lists (CRDs such as ServiceMonitor and PodMonitor included, where installed).
    const kinds = await c.kubectl(['api-resources', '--verbs=list', '-o', 'name']);
    assert.ok(kinds.ok, kinds.stderr);
    const names = kinds.stdout.trim().split('\n').filter(Boolean);
    assert.ok(names.includes('validatingwebhookconfigurations.admissionregistration.k8s.io'), kinds.stdout);
    const anyKind = await c.kubectl(['get', names.join(','), '-A', '-l', selector, '-o', 'name']);
    assert.ok(anyKind.ok, anyKind.stderr);
    assert.equal(anyKind.stdout.trim(), '');
    const releases = await c.kubectl(['get', 'secrets', '-n', releaseNamespace, '-l', `owner=helm,name=${releaseName}`, '-o', 'name']);
    assert.equal(releases.stdout.trim(), '', 'helm release records removed');
  });

  it('passes the server\'s strict validation and admission with every optional block on (dry run)', async () => {
    const ns = await c.kubectl(['create', 'namespace', 'monitoring']);
    assert.ok(ns.ok || /AlreadyExists/.test(ns.stderr), ns.stderr);
    const rendered = await withValuesFile(allOptionalValues, (file) =>
      c.helm(['template', releaseName, chartDir, '-n', releaseNamespace, '--values', file]),
    );
    assert.ok(rendered.ok, rendered.stderr);
    // The Prometheus Operator's CRDs are not installed here; those two kinds are checked against its schemas in the unit tests.
    const objects = parseManifests(rendered.stdout).filter((o) => o.apiVersion !== 'monitoring.coreos.com/v1');
    assert.ok(objects.length >= 9, `${objects.length} objects`);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    const r = await c.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], list);
    assert.ok(r.ok, r.stderr);
    for (const o of objects) assert.match(r.stdout, new RegExp(`${o.metadata.name}.* created \\(server dry run\\)`), `${o.kind} ${o.metadata.name}`);
  });
});
