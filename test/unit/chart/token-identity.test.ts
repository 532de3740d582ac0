// Issue 15: the chart's token identity (tokenIdentity.*) rendered by the real helm: the
// MutatingWebhookConfiguration on the admission function's /mutate/ path, the proxy's token
// settings (read back by the proxy's own config parser), the issuer-discovery binding and the
// NetworkPolicy port. That the API server sends the right pods is tested through a real
// kube-apiserver in test/integration/chart/token-identity-webhook.test.ts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../proxy/src/config.ts';
import { TOKEN_IDENTITY_ANNOTATION } from '../../../core/src/annotations.ts';
import { find, proxyContainer, releaseNamespace, render, resolveEnv, tryRender, validateObject, type K8sObject } from './chart.ts';

const node = { 'spec.nodeName': 'node-a', 'status.hostIP': '192.0.2.10', 'metadata.namespace': releaseNamespace };
const SECRET = 's3cr3t-0123456789abcdef0123456789abcdef';
const URL_VALUE = `https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/admit/${SECRET}`;

interface MutatingHook {
  name: string;
  sideEffects: string;
  admissionReviewVersions: string[];
  failurePolicy: string;
  reinvocationPolicy: string;
  timeoutSeconds: number;
  clientConfig: { url: string; caBundle?: string };
  rules: Array<Record<string, unknown>>;
  namespaceSelector: { matchLabels?: Record<string, string>; matchExpressions: Array<{ key: string; operator: string; values: string[] }> };
  matchConditions: Array<{ name: string; expression: string }>;
}

const hooksOf = (objects: K8sObject[]) => (find(objects, 'MutatingWebhookConfiguration') as unknown as { webhooks: MutatingHook[] }).webhooks;
const kindsOf = (objects: K8sObject[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);

describe('chart: token identity', () => {
  it('renders nothing of it by default, even with the webhook URL set', async () => {
    const objects = await render({ clusterName: 'prod', webhook: { url: URL_VALUE } });
    const c = proxyContainer(objects);

    assert.ok(!objects.some((o) => o.kind === 'MutatingWebhookConfiguration'));
    assert.ok(!kindsOf(objects).includes('ClusterRoleBinding/podiam-issuer-discovery'));
    assert.deepEqual((c.env ?? []).filter((e) => e.name.startsWith('PODIAM_TOKEN_')), []);
    assert.ok(!(c.ports ?? []).some((p) => p.name === 'token'));
    assert.equal(parseConfig(resolveEnv(c.env ?? [], node)).tokenIdentity, undefined);
  });

  it('calls the same Function URL and secret at /mutate/, on pod creation only, with no side effects, Ignore by default', async () => {
    const objects = await render({ clusterName: 'prod', webhook: { url: URL_VALUE }, tokenIdentity: { enabled: true } });
    for (const o of objects) validateObject(o);
    const hooks = hooksOf(objects);

    assert.deepEqual(hooks.map((h) => h.name), ['token-identity-pod.podiam.io', 'token-identity-namespace.podiam.io']);
    for (const h of hooks) {
      assert.equal(h.clientConfig.url, `https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/mutate/${SECRET}`);
      assert.deepEqual(h.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
      assert.equal(h.sideEffects, 'None');
      assert.deepEqual(h.admissionReviewVersions, ['v1']);
      assert.equal(h.failurePolicy, 'Ignore', 'a Lambda outage must not stop pod creation');
      assert.equal(h.reinvocationPolicy, 'Never');
      const notIn = h.namespaceSelector.matchExpressions.find((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn');
      assert.deepEqual(notIn?.values, ['kube-system']);
    }
  });

  it('sends pods annotated "true" anywhere, and the other pods of labelled namespaces unless annotated "false"', async () => {
    const [byPod, byNamespace] = hooksOf(await render({ clusterName: 'prod', webhook: { url: URL_VALUE }, tokenIdentity: { enabled: true } })) as [MutatingHook, MutatingHook];

    assert.equal(byPod.namespaceSelector.matchLabels, undefined);
    assert.equal(byPod.matchConditions.length, 1);
    assert.match(byPod.matchConditions[0]!.expression, new RegExp(`object\\.metadata\\.annotations\\['${TOKEN_IDENTITY_ANNOTATION.replace(/\./g, '\\.')}'\\] == 'true'`));
    assert.deepEqual(byNamespace.namespaceSelector.matchLabels, { 'podiam.io/token-identity': 'enabled' });
    assert.equal(byNamespace.matchConditions.length, 1);
    assert.match(byNamespace.matchConditions[0]!.expression, /in \['true', 'false'\]/);
  });

  it('passes failurePolicy, the namespace label, excluded namespaces and the caBundle through', async () => {
    const objects = await render({
      clusterName: 'prod',
      webhook: { url: URL_VALUE, caBundle: '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n', excludeNamespaces: ['monitoring'] },
      tokenIdentity: { enabled: true, failurePolicy: 'Fail', namespaceLabel: 'example.com/tokens' },
    });
    const hooks = hooksOf(objects);
    const vwc = find(objects, 'ValidatingWebhookConfiguration') as unknown as { webhooks: MutatingHook[] };

    assert.deepEqual(hooks.map((h) => h.failurePolicy), ['Fail', 'Fail']);
    assert.deepEqual(hooks[1]!.namespaceSelector.matchLabels, { 'example.com/tokens': 'enabled' });
    for (const h of hooks) {
      assert.deepEqual(h.namespaceSelector.matchExpressions[0]!.values, ['kube-system', 'monitoring']);
      assert.equal(h.clientConfig.caBundle, vwc.webhooks[0]!.clientConfig.caBundle);
    }
  });

  it('replaces only the last /admit/ of the URL', async () => {
    const url = `https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/admit/x/admit/${SECRET}`;
    const hooks = hooksOf(await render({ clusterName: 'prod', webhook: { url }, tokenIdentity: { enabled: true } }));
    assert.equal(hooks[0]!.clientConfig.url, `https://abcdefghijklmnop.lambda-url.eu-west-1.on.aws/admit/x/mutate/${SECRET}`);
  });

  it('gives the proxy its token settings, which the proxy parses, and a token port', async () => {
    const objects = await render({ clusterName: 'prod', tokenIdentity: { enabled: true, audience: 'podiam.prod', port: 8190, issuer: 'https://oidc.example.com/prod' } });
    const c = proxyContainer(objects);
    const config = parseConfig(resolveEnv(c.env ?? [], node));

    assert.deepEqual(config.tokenIdentity, { port: 8190, audience: 'podiam.prod', issuer: 'https://oidc.example.com/prod' });
    assert.deepEqual(c.ports?.find((p) => p.name === 'token'), { name: 'token', containerPort: 8190, protocol: 'TCP' });
    assert.ok(!objects.some((o) => o.kind === 'MutatingWebhookConfiguration'), 'no webhook without its URL');
  });

  it('defaults the proxy to port 8182 and audience podiam, and reads the issuer from discovery', async () => {
    const c = proxyContainer(await render({ clusterName: 'prod', tokenIdentity: { enabled: true } }));
    assert.deepEqual(parseConfig(resolveEnv(c.env ?? [], node)).tokenIdentity, { port: 8182, audience: 'podiam', issuer: undefined });
  });

  it('binds the proxy to system:service-account-issuer-discovery, so it can read the JWKS where the default binding was removed', async () => {
    const objects = await render({ clusterName: 'prod', tokenIdentity: { enabled: true } });
    const binding = find(objects, 'ClusterRoleBinding', 'podiam-issuer-discovery') as unknown as { roleRef: Record<string, string>; subjects: Array<Record<string, string>> };

    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:service-account-issuer-discovery' });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: find(objects, 'ServiceAccount').metadata.name, namespace: releaseNamespace }]);
  });

  it('creates no binding when RBAC is off', async () => {
    const objects = await render({ clusterName: 'prod', rbac: { create: false }, tokenIdentity: { enabled: true } });
    assert.ok(!objects.some((o) => o.kind === 'ClusterRoleBinding'));
  });

  it('opens the token port in the NetworkPolicy', async () => {
    const np = find(await render({ clusterName: 'prod', networkPolicy: { enabled: true }, tokenIdentity: { enabled: true } }), 'NetworkPolicy') as unknown as { spec: { ingress: Array<{ ports: Array<{ port: number }> }> } };
    assert.deepEqual(np.spec.ingress[0]!.ports.map((p) => p.port), [8181, 8182]);
  });

  it('refuses a token port equal to the metadata or metrics port', async () => {
    for (const port of [8181, 9181]) {
      const r = await tryRender({ clusterName: 'prod', tokenIdentity: { enabled: true, port } });
      assert.equal(r.ok, false, String(port));
      assert.match(r.stderr, /tokenIdentity\.port \(\d+\) is the same as port or metricsPort/);
    }
  });

  it('refuses, by the values schema, an audience with a space, an unknown failure policy, a bad label key or an unknown key', async () => {
    for (const tokenIdentity of [{ audience: 'a b' }, { failurePolicy: 'Retry' }, { namespaceLabel: 'no spaces allowed' }, { issuer: 'http://plain' }, { enable: true }]) {
      const r = await tryRender({ clusterName: 'prod', tokenIdentity });
      assert.equal(r.ok, false, JSON.stringify(tokenIdentity));
      assert.match(r.stderr, /tokenIdentity/);
    }
  });
});
