import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { readCurrentState } from '../../../iam-model/src/iam-reader.ts';
import { policiesEqual } from '../../../iam-model/src/policy-compare.ts';
import { bundleOf, exampleBundle, service, XRAY_POLICY_ARN } from '../../unit/functions/fixtures.ts';
import { PROXY_ROLE_NAME, startHarness, type Harness } from './harness.ts';

const event = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

async function inlinePolicies(roleName: string): Promise<string[]> {
  return ((await h.iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? []).sort();
}

describe('reconcile against moto', () => {
  it('creates every role of the bundle from empty, tagged, bounded and trusted by the intermediate role only', async () => {
    await h.publish(exampleBundle());
    const handler = createReconcileHandler(h.deps);
    const summary = await handler(event('reconcile-bundle-published.json'));
    assert.ok(!('ignored' in summary));
    assert.deepEqual(summary.planned, { 'create-role': 3, 'put-intermediate-policy': 1 });
    assert.deepEqual(h.calls.byName().CreateRole, 3);

    const role = (await h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.writer' }))).Role!;
    assert.equal(role.Path, '/podiam/prod/');
    assert.equal(role.MaxSessionDuration, 7200);
    assert.deepEqual(Object.fromEntries(role.Tags!.map((t) => [t.Key, t.Value])), { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'writer' });
    const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!));
    assert.deepEqual(trust.Statement[0].Principal, { AWS: [h.proxyRoleArn] });
    assert.deepEqual(trust.Statement[0].Action, ['sts:AssumeRole', 'sts:TagSession']);
    assert.deepEqual(await inlinePolicies('prod.orders.writer'), ['podiam-service-policy']);
    const attached = await h.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'prod.orders.writer' }));
    assert.deepEqual(attached.AttachedPolicies!.map((p) => p.PolicyArn), [XRAY_POLICY_ARN]);
    const assume = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy', PolicyName: 'podiam-assume-managed-roles' }));
    assert.match(decodeURIComponent(assume.PolicyDocument!), /role\/podiam\/prod\/\*/);
  });

  it('makes zero IAM writes on a second run with nothing to change', async () => {
    const summary = await reconcile(h.deps, { trigger: 'test' });
    assert.equal(summary.applied, 0);
    assert.equal(summary.unchanged, 3);
    assert.equal(h.calls.writes(), 0, JSON.stringify(h.calls.byName()));
    assert.ok(h.calls.total() > 0, 'the run did read IAM');
  });

  it('repairs drift made by hand when the CloudTrail event for that role arrives, and leaves AWSRevokeOlderSessions alone', async () => {
    await h.iam.send(new PutRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'hand-made', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }));
    await h.iam.send(new PutRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'AWSRevokeOlderSessions', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-11-27T12:00:00Z' } } }] }) }));
    await h.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }] }) }));

    const summary = await createReconcileHandler(h.deps)(event('reconcile-cloudtrail-drift.json'));
    assert.ok(!('ignored' in summary));
    assert.deepEqual(summary.scope, ['prod.orders.reader']);
    assert.deepEqual(summary.planned, { 'update-trust': 1, 'delete-inline-policy': 1 });
    assert.equal(h.calls.byName().ListRoles, undefined, 'a drift event reads only the named role');
    assert.deepEqual(await inlinePolicies('prod.orders.reader'), ['AWSRevokeOlderSessions', 'podiam-service-policy']);
    const trust = (await h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.reader' }))).Role!.AssumeRolePolicyDocument;
    assert.match(decodeURIComponent(trust!), /podiam-prod-node-proxy/);
    h.calls.reset();
    await reconcile(h.deps, { trigger: 'test' });
    assert.equal(h.calls.writes(), 0, 'repaired state is stable');
  });

  it('repairs the intermediate role\'s assume policy, the other half of the trust link, from its CloudTrail event', async () => {
    const widened = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] };
    await h.iam.send(new PutRolePolicyCommand({ RoleName: PROXY_ROLE_NAME, PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(widened) }));
    const e = event('reconcile-cloudtrail-drift.json') as { detail: { requestParameters: Record<string, string> } };
    e.detail.requestParameters = { roleName: PROXY_ROLE_NAME, policyName: 'podiam-assume-managed-roles' };
    h.calls.reset();

    const summary = await createReconcileHandler(h.deps)(e);

    assert.ok(!('ignored' in summary), JSON.stringify(summary));
    assert.equal(summary.scope, 'cluster');
    assert.deepEqual(summary.planned, { 'put-intermediate-policy': 1 });
    const repaired = await h.iam.send(new GetRolePolicyCommand({ RoleName: PROXY_ROLE_NAME, PolicyName: 'podiam-assume-managed-roles' }));
    assert.match(decodeURIComponent(repaired.PolicyDocument!), /role\/podiam\/prod\/\*/);
    assert.ok(!policiesEqual(JSON.parse(decodeURIComponent(repaired.PolicyDocument!)), widened));
  });

  it('ignores drift events of other clusters and failed calls', async () => {
    const e = event('reconcile-cloudtrail-drift.json') as { detail: { requestParameters: { roleName: string }; errorCode?: string } };
    e.detail.requestParameters.roleName = 'staging.orders.reader';
    assert.ok('ignored' in (await createReconcileHandler(h.deps)(e)));
    const failed = event('reconcile-cloudtrail-drift.json') as { detail: { errorCode?: string } };
    failed.detail.errorCode = 'AccessDenied';
    assert.ok('ignored' in (await createReconcileHandler(h.deps)(failed)));
    assert.equal(h.calls.total(), 0);
  });

  it('deletes only managed roles whose file was removed, and reports a collision with an unmanaged role', async () => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    // An unmanaged role under the managed path, and one whose name a new file will want.
    await h.iam.send(new CreateRoleCommand({ RoleName: 'prod-orders-legacy', Path: '/podiam/prod/', AssumeRolePolicyDocument: trust }));
    await h.iam.send(new CreateRoleCommand({ RoleName: 'prod.orders.taken', AssumeRolePolicyDocument: trust }));
    // A role tagged for another cluster under our path is not ours either.
    await h.iam.send(new CreateRoleCommand({ RoleName: 'prod-orders-foreign', Path: '/podiam/prod/', AssumeRolePolicyDocument: trust }));
    await h.iam.send(new TagRoleCommand({ RoleName: 'prod-orders-foreign', Tags: [{ Key: 'podiam:cluster', Value: 'staging' }, { Key: 'podiam:namespace', Value: 'orders' }, { Key: 'podiam:service', Value: 'foreign' }] }));
    // orders/writer's file is removed; orders/taken is added.
    const next = exampleBundle();
    next.services = next.services.filter((s) => s.service !== 'writer');
    next.services.push(service('orders', 'taken'));
    await h.publish(bundleOf(next.services));

    const summary = await createReconcileHandler(h.deps)(event('reconcile-scheduled.json'));
    assert.ok(!('ignored' in summary));
    assert.equal(summary.planned['delete-role'], 1);
    assert.deepEqual(summary.collisions.map((c) => c.roleName), ['prod.orders.taken']);
    assert.equal(h.calls.byName().DeleteRole, 1);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.writer' })), { name: 'NoSuchEntityException' });
    for (const kept of ['prod-orders-legacy', 'prod.orders.taken', 'prod-orders-foreign']) {
      const role = (await h.iam.send(new GetRoleCommand({ RoleName: kept }))).Role!;
      assert.ok(policiesEqual(role.AssumeRolePolicyDocument, trust), `${kept} was not changed`);
      assert.deepEqual(await inlinePolicies(kept), []);
    }
  });

  it('writes nothing again after the deletion run', async () => {
    await reconcile(h.deps, { trigger: 'test' });
    assert.equal(h.calls.writes(), 0, JSON.stringify(h.calls.byName()));
  });

  it('reads the same state with the bulk read (GetAccountAuthorizationDetails) as with per-role reads', async () => {
    const base = { cluster: 'prod', accountId: h.moto.accountId, intermediateRoleArns: [h.proxyRoleArn], lookupNames: ['prod.orders.taken', 'prod.orders.reader'] };
    const bulk = await readCurrentState(h.iam, { ...base, strategy: 'bulk' });
    const perRole = await readCurrentState(h.iam, { ...base, strategy: 'per-role' });
    assert.ok(bulk.roles.length >= 5);
    assert.deepEqual(bulk, perRole);
    assert.ok(bulk.roles.some((r) => r.name === 'prod.orders.taken' && r.path === '/'), 'a colliding name elsewhere is reported');
  });

  it('ignores objects other than the bundle', async () => {
    const e = event('reconcile-bundle-published.json') as { detail: { object: { key: string } } };
    e.detail.object.key = 'state/prod/other.json';
    assert.ok('ignored' in (await createReconcileHandler(h.deps)(e)));
  });
});
