import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDesiredState, findDesiredRole } from '../../../iam-model/src/desired-state.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { ACCOUNT_ID, PROXY_ROLE, XRAY_POLICY_ARN, bundleOf, exampleBundle, service } from '../functions/fixtures.ts';

const settings = { cluster: 'prod', accountId: ACCOUNT_ID, intermediateRoleArns: [PROXY_ROLE] };

describe('desired state from a bundle', () => {
  it('gives each service a tagged role under /podiam/<cluster>/ with its policy, trust and settings', () => {
    const state = buildDesiredState(exampleBundle(), settings);
    assert.deepEqual(state.roles.map((r) => r.name), ['prod.dns.updater', 'prod.orders.reader', 'prod.orders.writer']);
    const writer = findDesiredRole(state, 'orders', 'writer')!;
    assert.equal(writer.path, '/podiam/prod/');
    assert.equal(writer.arn, `arn:aws:iam::${ACCOUNT_ID}:role/podiam/prod/prod.orders.writer`);
    assert.deepEqual(writer.tags, { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'writer' });
    assert.equal(writer.maxSessionDuration, 7200);
    assert.deepEqual(writer.managedPolicyArns, [XRAY_POLICY_ARN]);
    assert.equal(writer.inlinePolicyName, 'podiam-service-policy');
    assert.equal(findDesiredRole(state, 'orders', 'reader')!.maxSessionDuration, 3600);
    const trust = writer.trustPolicy.Statement as { Principal: unknown; Condition: unknown }[];
    assert.deepEqual(trust[0]!.Principal, { AWS: [PROXY_ROLE] });
    assert.deepEqual(trust[0]!.Condition, { StringEquals: { 'aws:RequestTag/kubernetes-namespace': 'orders' } });
  });

  it('gives the intermediate role the policy to assume exactly this cluster’s roles', () => {
    const state = buildDesiredState(exampleBundle(), settings);
    assert.equal(state.intermediates.length, 1);
    assert.equal(state.intermediates[0]!.writable, true);
    assert.match(JSON.stringify(state.intermediates[0]!.policy), /role\/podiam\/prod\/\*/);
    const other = buildDesiredState(exampleBundle(), { ...settings, intermediateRoleArns: ['arn:aws:iam::999999999999:role/proxy'] });
    assert.equal(other.intermediates[0]!.writable, false);
  });

  it('takes the boundary from the stack only: a bundle naming one never sets it, and one naming another is refused', () => {
    const stackBoundary = `arn:aws:iam::${ACCOUNT_ID}:policy/boundary`;
    const naming = (arn: string) => bundleOf(exampleBundle().services, { permissionsBoundaryArn: arn });
    assert.equal(buildDesiredState(exampleBundle(), { ...settings, permissionsBoundaryArn: stackBoundary }).roles[0]!.permissionsBoundaryArn, stackBoundary);
    assert.equal(buildDesiredState(naming(stackBoundary), { ...settings, permissionsBoundaryArn: stackBoundary }).roles[0]!.permissionsBoundaryArn, stackBoundary);
    assert.equal(buildDesiredState(exampleBundle(), settings).roles[0]!.permissionsBoundaryArn, undefined);
    const refused = (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_BOUNDARY_MISMATCH';
    // A stack without a boundary: the bundle's would otherwise become the boundary, chosen by whoever publishes.
    assert.throws(() => buildDesiredState(naming(stackBoundary), settings), refused);
    assert.throws(() => buildDesiredState(naming(`arn:aws:iam::${ACCOUNT_ID}:policy/other`), { ...settings, permissionsBoundaryArn: stackBoundary }), refused);
  });

  it('refuses the whole bundle when a service attaches a managed policy outside the stack’s allowlist', () => {
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    const bundle = bundleOf([...exampleBundle().services, service('orders', 'sneaky', { managedPolicyArns: [admin] })]);
    assert.throws(
      () => buildDesiredState(bundle, { ...settings, attachableManagedPolicyArns: [XRAY_POLICY_ARN] }),
      (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_MANAGED_POLICY_NOT_ALLOWED' && err.message.includes(`policies/orders/sneaky.json: ${admin}`),
    );
    assert.throws(() => buildDesiredState(exampleBundle(), { ...settings, attachableManagedPolicyArns: [] }), (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_MANAGED_POLICY_NOT_ALLOWED');
    const allowed = buildDesiredState(exampleBundle(), { ...settings, attachableManagedPolicyArns: [XRAY_POLICY_ARN] });
    assert.deepEqual(findDesiredRole(allowed, 'orders', 'writer')!.managedPolicyArns, [XRAY_POLICY_ARN]);
  });

  it('adds Version 2012-10-17 to a team document that has none', () => {
    const svc = service('orders', 'reader', { policy: { Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::x' }] } });
    assert.equal(buildDesiredState(bundleOf([svc]), settings).roles[0]!.inlinePolicy.Version, '2012-10-17');
  });

  it('refuses a MaxSessionDuration outside IAM’s range, naming the file', () => {
    const svc = service('orders', 'reader', { maxSessionDuration: 60 });
    assert.throws(() => buildDesiredState(bundleOf([svc]), settings), (err: unknown) => {
      assert.ok(err instanceof PodiamError);
      assert.equal(err.code, 'PODIAM_BUNDLE_INVALID');
      assert.match(err.message, /policies\/orders\/reader\.json/);
      return true;
    });
  });

  it('refuses two files that map to one role name', () => {
    assert.throws(() => buildDesiredState(bundleOf([service('orders', 'reader'), service('orders', 'reader')]), settings), /both map to role name prod.orders.reader/);
  });
});
