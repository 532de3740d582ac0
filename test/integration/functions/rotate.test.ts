import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, PutRolePolicyCommand, GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { intermediateRolePolicy } from '../../../iam-model/src/trust.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { startHarness, type Harness } from './harness.ts';
import { directReconcileWriter } from './reconcile-writer.ts';
import { canAssume } from './trust-simulation.ts';

const event = (name: string): { detail: Record<string, unknown> } & Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));

const ROLES = [['prod.orders.reader', 'orders'], ['prod.orders.writer', 'orders'], ['prod.dns.updater', 'dns']] as const;
const proxyTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

let h: Harness;
let rotate: ReturnType<typeof createRotateHandler>;

before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'setup' });
  rotate = createRotateHandler({ ...h.deps, reconcileWriter: directReconcileWriter(h.deps) });
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

/** The next proxy role, made as an operator would: with its assume policy (rotate never writes policies on roles it was not configured with). */
async function createProxyRole(name: string): Promise<string> {
  const arn = (await h.iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: proxyTrust }))).Role!.Arn!;
  await h.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: h.moto.accountId }, 'prod')) }));
  return arn;
}

async function trustPrincipals(roleName: string): Promise<string[]> {
  const doc = JSON.parse(decodeURIComponent((await h.iam.send(new GetRoleCommand({ RoleName: roleName }))).Role!.AssumeRolePolicyDocument!));
  return [doc.Statement[0].Principal.AWS].flat().sort();
}

async function whoCanAssumeAll(arns: string[]): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const arn of arns) {
    const answers = await Promise.all(ROLES.map(([role, ns]) => canAssume(h.iam, arn, role, ns)));
    out[arn.slice(arn.lastIndexOf('/') + 1)] = answers.every((a) => a === 'Allowed');
  }
  return out;
}

describe('rotate against moto', () => {
  it('revokes older sessions of one service’s role the way IAM does, and reconcile keeps the policy', async () => {
    const before = Date.now();
    const answer = await rotate(event('rotate-revoke-sessions.json'));
    assert.deepEqual('revoked' in answer && answer.revoked, ['prod.orders.reader']);
    const got = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'AWSRevokeOlderSessions' }));
    const doc = JSON.parse(decodeURIComponent(got.PolicyDocument!));
    assert.equal(doc.Statement[0].Effect, 'Deny');
    const cutoff = Date.parse(doc.Statement[0].Condition.DateLessThan['aws:TokenIssueTime']);
    assert.ok(cutoff >= before - 1000 && cutoff <= Date.now() + 1000);
    assert.deepEqual((await h.iam.send(new ListRolePoliciesCommand({ RoleName: 'prod.orders.writer' }))).PolicyNames, ['podiam-service-policy']);
    h.calls.reset();
    await reconcile(h.deps, { trigger: 'test' });
    assert.equal(h.calls.writes(), 0);
  });

  it('revokes every role of a namespace when no service is named', async () => {
    const e = event('rotate-revoke-sessions.json');
    delete e.detail.service;
    const answer = await rotate(e);
    assert.deepEqual('revoked' in answer && answer.revoked, ['prod.orders.reader', 'prod.orders.writer']);
  });

  it('rotates the intermediate role without a moment where no proxy role can assume the managed roles', async () => {
    const oldArn = h.proxyRoleArn;
    const newArn = await createProxyRole('podiam-prod-node-proxy-v2');
    assert.deepEqual(await whoCanAssumeAll([oldArn, newArn]), { 'podiam-prod-node-proxy': true, 'podiam-prod-node-proxy-v2': false });

    const begin = event('rotate-begin-intermediate-rotation.json');
    begin.detail.newRoleArn = newArn;
    await rotate(begin);
    for (const [role] of ROLES) assert.deepEqual(await trustPrincipals(role), [oldArn, newArn].sort());
    assert.deepEqual(await whoCanAssumeAll([oldArn, newArn]), { 'podiam-prod-node-proxy': true, 'podiam-prod-node-proxy-v2': true });

    // The hourly reconcile in between must not undo the rotation.
    h.calls.reset();
    await reconcile(h.deps, { trigger: 'schedule' });
    assert.equal(h.calls.writes(), 0);

    const finish = event('rotate-finish-intermediate-rotation.json');
    finish.detail.oldRoleArn = oldArn;
    await rotate(finish);
    for (const [role] of ROLES) assert.deepEqual(await trustPrincipals(role), [newArn]);
    assert.deepEqual(await whoCanAssumeAll([oldArn, newArn]), { 'podiam-prod-node-proxy': false, 'podiam-prod-node-proxy-v2': true });
    h.calls.reset();
    await reconcile(h.deps, { trigger: 'schedule' });
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses to retire the last intermediate role that exists', async () => {
    const finish = event('rotate-finish-intermediate-rotation.json');
    finish.detail.oldRoleArn = 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy-v2';
    await assert.rejects(rotate(finish), { code: 'PODIAM_INTERMEDIATE_ROLES_MISSING' });
    assert.deepEqual(await trustPrincipals('prod.orders.reader'), ['arn:aws:iam::123456789012:role/podiam-prod-node-proxy-v2']);
  });

  it('drops trust entries for an intermediate role that no longer exists on the scheduled prune', async () => {
    const v3 = await createProxyRole('podiam-prod-node-proxy-v3');
    const begin = event('rotate-begin-intermediate-rotation.json');
    begin.detail.newRoleArn = v3;
    await rotate(begin);
    assert.ok((await trustPrincipals('prod.orders.reader')).includes(v3));
    await h.iam.send(new DeleteRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy-v3', PolicyName: 'podiam-assume-managed-roles' }));
    await h.iam.send(new DeleteRoleCommand({ RoleName: 'podiam-prod-node-proxy-v3' }));
    const answer = await rotate(JSON.parse(readFileSync(new URL('../../../events/reconcile-scheduled.json', import.meta.url), 'utf8')));
    assert.ok('state' in answer);
    assert.deepEqual(answer.state?.added, ['arn:aws:iam::123456789012:role/podiam-prod-node-proxy-v2']);
    for (const [role] of ROLES) assert.ok(!(await trustPrincipals(role)).includes(v3), role);
  });

  it('rejects a request for another cluster or an unknown action without touching IAM', async () => {
    const other = event('rotate-revoke-sessions.json');
    other.detail.cluster = 'staging';
    const unknown = event('rotate-revoke-sessions.json');
    unknown.detail.action = 'delete-everything';
    for (const e of [other, unknown]) {
      const answer = await rotate(e);
      assert.equal('rejected' in answer && answer.rejected.code, 'PODIAM_ROTATE_REQUEST_INVALID');
    }
    assert.equal(h.calls.total(), 0);
  });
});
