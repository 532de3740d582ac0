import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDesiredState, type DesiredRole } from '../../../iam-model/src/desired-state.ts';
import { describeChange, planChanges, type CurrentRole, type CurrentState } from '../../../iam-model/src/plan.ts';
import { ACCOUNT_ID, PROXY_ROLE, exampleBundle } from '../functions/fixtures.ts';

const desired = buildDesiredState(exampleBundle(), { cluster: 'prod', accountId: ACCOUNT_ID, intermediateRoleArns: [PROXY_ROLE] });
const intermediateOk = { arn: PROXY_ROLE, exists: true, policy: encodeURIComponent(JSON.stringify(desired.intermediates[0]!.policy)) };

/** A role exactly as IAM would return it after a correct create: URL-encoded, arrays collapsed. */
function asIamHasIt(role: DesiredRole): CurrentRole {
  const collapse = (doc: unknown) => encodeURIComponent(JSON.stringify(doc).replace(/\[("[^"[\]]*")\]/g, '$1'));
  return {
    name: role.name,
    path: role.path,
    arn: role.arn,
    description: role.description,
    maxSessionDuration: role.maxSessionDuration,
    trustPolicy: JSON.parse(decodeURIComponent(collapse(role.trustPolicy))),
    tags: { ...role.tags, team: 'extra tags are left alone' },
    inlinePolicies: { [role.inlinePolicyName]: JSON.parse(decodeURIComponent(collapse(role.inlinePolicy))) },
    managedPolicyArns: [...role.managedPolicyArns].reverse(),
  };
}

const converged = (): CurrentState => ({ roles: desired.roles.map(asIamHasIt), intermediates: [intermediateOk] });

describe('plan: semantic diff of desired and current IAM state', () => {
  it('creates every role and the intermediate policy from empty', () => {
    const plan = planChanges(desired, { roles: [], intermediates: [{ arn: PROXY_ROLE, exists: true }] });
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.roleName}`), [
      'create-role prod.dns.updater',
      'create-role prod.orders.reader',
      'create-role prod.orders.writer',
      'put-intermediate-policy podiam-prod-node-proxy',
    ]);
  });

  it('plans nothing when IAM holds the same documents in its own normalised form', () => {
    const plan = planChanges(desired, converged());
    assert.deepEqual(plan.changes, []);
    assert.equal(plan.unchanged.length, 3);
  });

  it('plans exactly the drifted parts of a role', () => {
    const current = converged();
    const reader = current.roles.find((r) => r.name === 'prod.orders.reader')!;
    reader.trustPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] };
    reader.inlinePolicies['hand-made'] = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
    reader.inlinePolicies.AWSRevokeOlderSessions = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] };
    reader.managedPolicyArns.push('arn:aws:iam::aws:policy/AdministratorAccess');
    reader.maxSessionDuration = 43200;
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes.map((c) => c.kind), ['update-trust', 'update-role', 'delete-inline-policy', 'detach-managed-policy']);
    assert.ok(plan.changes.every((c) => c.roleName === 'prod.orders.reader'));
  });

  it('never removes a boundary from a role, even when the stack sets none', () => {
    const current = converged();
    current.roles[0]!.permissionsBoundaryArn = `arn:aws:iam::${ACCOUNT_ID}:policy/boundary`;
    assert.deepEqual(planChanges(desired, current).changes, []);
  });

  it('deletes a managed role whose file was removed, but never an untagged one', () => {
    const current = converged();
    const gone = { ...asIamHasIt(desired.roles[0]!), name: 'prod.orders.gone', arn: 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.gone' };
    gone.tags = { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'gone' };
    const stranger = { ...gone, name: 'prod-orders-stranger', tags: {} };
    const otherCluster = { ...gone, name: 'prod-orders-other', tags: { ...gone.tags, 'podiam:cluster': 'staging' } };
    current.roles.push(gone, stranger, otherCluster);
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.roleName}`), ['delete-role prod.orders.gone']);
  });

  it('reports a name collision with an unmanaged role instead of adopting it', () => {
    const current = converged();
    const reader = current.roles.find((r) => r.name === 'prod.orders.reader')!;
    reader.tags = {};
    reader.trustPolicy = { Version: '2012-10-17', Statement: [] };
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes, []);
    assert.deepEqual(plan.collisions.map((c) => c.roleName), ['prod.orders.reader']);
  });

  it('limits a scoped plan to the named roles', () => {
    const current = converged();
    current.roles = current.roles.filter((r) => r.name !== 'prod.orders.writer' && r.name !== 'prod.dns.updater');
    const plan = planChanges(desired, current, { scope: new Set(['prod.orders.writer']) });
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.roleName}`), ['create-role prod.orders.writer']);
  });

  it('rewrites the trust policy when the intermediate role was recreated and IAM shows its old unique ID', () => {
    const current = converged();
    for (const role of current.roles) role.trustPolicy = JSON.parse(JSON.stringify(role.trustPolicy).replace(PROXY_ROLE, 'AROAOLDUNIQUEID12345'));
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes.map((c) => c.kind), ['update-trust', 'update-trust', 'update-trust']);
  });
});

describe('plan: a role is used only for the service its podiam tags name', () => {
  it('reports a role of the desired name whose tags name another namespace as a collision and never touches it', () => {
    const current = converged();
    const reader = current.roles.find((r) => r.name === 'prod.orders.reader')!;
    reader.tags = { 'podiam:cluster': 'prod', 'podiam:namespace': 'billing', 'podiam:service': 'reader' };
    reader.inlinePolicies = {};
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes, []);
    assert.deepEqual(plan.collisions.map((c) => c.roleName), ['prod.orders.reader']);
    assert.match(plan.collisions[0]!.reason, /tags .*billing\/reader, not of orders\/reader/);
  });

  it('never deletes a role tagged for this cluster whose name is not that service\'s role name', () => {
    const current = converged();
    const misnamed = { ...asIamHasIt(desired.roles[0]!), name: 'prod.orders.elsewhere', arn: 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.elsewhere' };
    misnamed.tags = { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'gone' };
    current.roles.push(misnamed);
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes, []);
    assert.ok(plan.notes.some((n) => n.includes('prod.orders.elsewhere') && /left alone/.test(n)), plan.notes.join('\n'));
  });
});

describe('plan: migration from the earlier <cluster>-<ns>-<svc> name shape', () => {
  const legacyOf = (role: DesiredRole, name: string): CurrentRole => ({ ...asIamHasIt(role), name, arn: `arn:aws:iam::123456789012:role/podiam/prod/${name}` });

  it('creates the role of the current name, then deletes the old one, and says which it migrates', () => {
    const current = converged();
    const reader = desired.roles.find((r) => r.name === 'prod.orders.reader')!;
    current.roles = current.roles.filter((r) => r.name !== 'prod.orders.reader').concat(legacyOf(reader, 'prod-orders-reader'));
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.roleName}`), ['create-role prod.orders.reader', 'delete-role prod-orders-reader']);
    const [create, del] = plan.changes;
    assert.equal(create!.kind === 'create-role' && create!.migratesFrom, 'prod-orders-reader');
    assert.equal(del!.kind === 'delete-role' && del!.replacedBy, 'prod.orders.reader');
    assert.equal(describeChange(create!), '+ role prod.orders.reader (policies/orders/reader.json), migrates prod-orders-reader');
  });

  it('keeps an old-shape role whose successor\'s name is taken by a role that is not ours', () => {
    const current = converged();
    const reader = desired.roles.find((r) => r.name === 'prod.orders.reader')!;
    const squatter = current.roles.find((r) => r.name === 'prod.orders.reader')!;
    squatter.tags = {};
    current.roles.push(legacyOf(reader, 'prod-orders-reader'));
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes, []);
    assert.deepEqual(plan.collisions.map((c) => c.roleName), ['prod.orders.reader']);
    assert.ok(plan.notes.some((n) => /prod-orders-reader .* is kept until prod\.orders\.reader/.test(n)), plan.notes.join('\n'));
  });

  it('never migrates an old-shape name whose tags name another service (orders-billing/x is not orders/billing-x)', () => {
    const current = converged();
    const reader = desired.roles.find((r) => r.name === 'prod.orders.reader')!;
    current.roles = current.roles.filter((r) => r.name !== 'prod.orders.reader');
    // Named as orders/reader was, but tagged for another service: not orders/reader's old role.
    const other = legacyOf(reader, 'prod-orders-reader');
    other.tags = { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders-reader', 'podiam:service': 'x' };
    current.roles.push(other);
    const plan = planChanges(desired, current);
    assert.deepEqual(plan.changes.map((c) => `${c.kind} ${c.roleName}`), ['create-role prod.orders.reader']);
    assert.equal(plan.changes[0]!.kind === 'create-role' && plan.changes[0]!.migratesFrom, undefined);
  });
});
