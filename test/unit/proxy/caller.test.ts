import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../proxy/src/log.ts';
import { CallerRoles, type AllowDecision } from '../../../proxy/src/imds/caller.ts';
import { PodIndex, type PodObject } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { PodiamError } from '../../../core/src/errors.ts';

function setup(annotations: Record<string, string>, opts: { defaultRole?: string; defaultExternalId?: string; namespaceAnnotations?: Record<string, string> } = {}) {
  const pods = new PodIndex();
  const namespaces = new NamespaceIndex();
  namespaces.replaceAll([{ metadata: { name: 'orders', annotations: opts.namespaceAnnotations } }]);
  const obj: PodObject = { metadata: { uid: 'u-1', name: 'web-1', namespace: 'orders', annotations }, spec: { serviceAccountName: 'web' }, status: { phase: 'Running', podIP: '192.0.2.10' } };
  pods.replaceAll([obj]);
  const denied: string[] = [];
  const roles = new CallerRoles({
    pods,
    namespaces,
    settings: { cluster: 'prod', accountId: '123456789012', defaultRole: opts.defaultRole },
    indexWaitMs: 0,
    sessionDurationSeconds: 3600,
    defaultExternalId: opts.defaultExternalId,
    denials: { denied: async (_pod, d) => void denied.push(d.code) },
    logger: createLogger('silent'),
  });
  return { roles, pods, namespaces, denied };
}

describe('caller roles', () => {
  it('asks STS for the pod\'s managed role with its session name, the contract\'s tags, external ID and TTL', async () => {
    const { roles } = setup({ 'iam.amazonaws.com/role': 'reader', 'iam.amazonaws.com/external-id': 'ext-42', 'iam.amazonaws.com/session-ttl': '2h' });
    const { pod, decision } = await roles.resolve('192.0.2.10');
    const req = roles.assumeRequest(pod, decision);
    assert.equal(req.roleArn, 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader');
    assert.equal(req.sessionName, 'orders.web-1');
    assert.equal(req.externalId, 'ext-42');
    assert.equal(req.durationSeconds, 3600, 'role chaining caps sessions at one hour');
    assert.deepEqual(
      Object.fromEntries(req.tags.map((t) => [t.Key, t.Value])),
      { 'eks-cluster-name': 'prod', 'kubernetes-namespace': 'orders', 'kubernetes-pod-name': 'web-1', 'kubernetes-pod-uid': 'u-1', 'kubernetes-service-account': 'web' },
    );
  });

  it('sends the cluster-wide external ID for pods without their own, and the pod\'s own where it has one', async () => {
    const plain = setup({ 'iam.amazonaws.com/role': 'reader' }, { defaultExternalId: 'cluster-ext' });
    const a = await plain.roles.resolve('192.0.2.10');
    assert.equal(plain.roles.assumeRequest(a.pod, a.decision).externalId, 'cluster-ext');
    const own = setup({ 'iam.amazonaws.com/role': 'reader', 'iam.amazonaws.com/external-id': 'pod-ext' }, { defaultExternalId: 'cluster-ext' });
    const b = await own.roles.resolve('192.0.2.10');
    assert.equal(own.roles.assumeRequest(b.pod, b.decision).externalId, 'pod-ext');
  });

  it('tags every session with the pod\'s namespace, for a managed role and for an unmanaged role the namespace permits', async () => {
    // Every managed role's trust requires kubernetes-namespace to equal its namespace: a request
    // without the tag could assume no managed role, and there is no switch to leave it out.
    const managed = setup({ 'iam.amazonaws.com/role': 'reader' });
    const a = await managed.roles.resolve('192.0.2.10');
    const permitted = setup({ 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/team/legacy' }, { namespaceAnnotations: { 'iam.amazonaws.com/allowed-roles': '["team/*"]' } });
    const b = await permitted.roles.resolve('192.0.2.10');
    for (const [roles, r] of [[managed.roles, a], [permitted.roles, b]] as const) {
      const tags = roles.assumeRequest(r.pod, r.decision).tags;
      assert.equal(tags.find((t) => t.Key === 'kubernetes-namespace')?.Value, 'orders', r.decision.role.arn);
    }
  });

  it('refuses a pod in a namespace whose permitted regexp uses a construct the linear matcher does not run, with the fix', async () => {
    const { roles, denied } = setup({ 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/team/legacy' }, { namespaceAnnotations: { 'iam.amazonaws.com/permitted': '(team)/\\1' } });
    await assert.rejects(roles.resolve('192.0.2.10'), (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_NAMESPACE_ANNOTATION_INVALID' && err.status === 403 && /backreference/.test(err.message) && /supported subset/.test(err.message));
    assert.deepEqual(denied, ['PODIAM_NAMESPACE_ANNOTATION_INVALID']);
  });

  it('turns no role into 404 and a denial into 403 with the decision\'s code, reported once per request', async () => {
    const none = setup({});
    await assert.rejects(none.roles.resolve('192.0.2.10'), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_NO_ROLE' && e.status === 404);
    const denied = setup({ 'iam.amazonaws.com/role': 'arn:aws:iam::999999999999:role/x' });
    await assert.rejects(denied.roles.resolve('192.0.2.10'), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_ROLE_NOT_PERMITTED' && e.status === 403);
    assert.deepEqual(denied.denied, ['PODIAM_ROLE_NOT_PERMITTED']);
  });

  it('refuses every pod of a namespace annotated podiam.io/ip-identity: disabled on the metadata path, by lookup now or by waiting', async () => {
    const off = setup({ 'iam.amazonaws.com/role': 'web' }, { namespaceAnnotations: { 'podiam.io/ip-identity': 'disabled' } });
    assert.equal(off.roles.resolveNow('192.0.2.10'), undefined);
    await assert.rejects(off.roles.resolve('192.0.2.10'), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_IP_IDENTITY_DISABLED' && e.status === 403);
    const on = setup({ 'iam.amazonaws.com/role': 'web' }, { namespaceAnnotations: { 'podiam.io/ip-identity': 'enabled' } });
    assert.equal((await on.roles.resolve('192.0.2.10')).decision.role.name.length > 0, true);
    assert.notEqual(on.roles.resolveNow('192.0.2.10'), undefined);
  });

  it('puts the default role through the same rules', async () => {
    const { roles } = setup({}, { defaultRole: 'arn:aws:iam::123456789012:role/podiam/prod/prod.billing.writer' });
    await assert.rejects(roles.resolve('192.0.2.10'), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('decides afresh when the namespace\'s annotations change', async () => {
    const { roles, namespaces } = setup({ 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/legacy' });
    await assert.rejects(roles.resolve('192.0.2.10'));
    namespaces.apply('MODIFIED', { metadata: { name: 'orders', annotations: { 'iam.amazonaws.com/allowed-roles': '["legacy"]' } } });
    const { decision } = await roles.resolve('192.0.2.10');
    assert.equal((decision as AllowDecision).role.arn, 'arn:aws:iam::123456789012:role/legacy');
  });
});
