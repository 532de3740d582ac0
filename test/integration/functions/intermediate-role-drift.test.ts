// Issue 10.9: deleting or re-creating an intermediate (node proxy) role was not drift, so pods on
// a recreated node role got AccessDenied until the hourly run. Driven through the real reconcile
// handler against moto with CloudTrail-shaped events: CreateRole/DeleteRole of a configured
// intermediate role, or of one a rotation added, starts a whole-cluster run; the same event for
// any other role, or made by reconcile itself, does not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, GetRoleCommand, ListRolesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { intermediateRolePolicy } from '../../../iam-model/src/trust.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { CLUSTER, PROXY_ROLE_NAME, startHarness, type Harness } from './harness.ts';
import { directReconcileWriter } from './reconcile-writer.ts';

const SELF = 'arn:aws:iam::123456789012:role/podiam-prod-ReconcileFunctionRole-ABC';
const proxyTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

let h: Harness;
let handle: ReturnType<typeof createReconcileHandler>;
let managed: string[];

before(async () => {
  h = await startHarness({ selfRoleArn: SELF });
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'setup' });
  managed = ((await h.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${CLUSTER}/` }))).Roles ?? []).map((r) => r.RoleName!);
  handle = createReconcileHandler(h.deps);
});
after(() => h?.stop());

function cloudTrail(eventName: string, roleName: string, issuer = 'arn:aws:iam::123456789012:role/Admin') {
  const e = JSON.parse(readFileSync(new URL('../../../events/reconcile-cloudtrail-drift.json', import.meta.url), 'utf8'));
  e.detail.eventName = eventName;
  e.detail.requestParameters = { roleName };
  e.detail.userIdentity.sessionContext.sessionIssuer.arn = issuer;
  return e;
}

async function principals(role: string): Promise<string[]> {
  const doc = JSON.parse(decodeURIComponent((await h.iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument!));
  return [doc.Statement[0].Principal.AWS].flat().sort();
}

describe('drift of the intermediate role itself', () => {
  it('runs the whole cluster when the configured intermediate role is created again', async () => {
    const answer = await handle(cloudTrail('CreateRole', PROXY_ROLE_NAME));

    assert.ok(!('ignored' in answer), JSON.stringify(answer));
    assert.equal('scope' in answer && answer.scope, 'cluster');
    assert.match('trigger' in answer ? answer.trigger : '', /CreateRole on the intermediate role podiam-prod-node-proxy/);
  });

  it('runs the whole cluster when a role a rotation added is deleted, and drops it from every trust policy', async () => {
    const v2 = (await h.iam.send(new CreateRoleCommand({ RoleName: 'podiam-prod-node-proxy-v2', AssumeRolePolicyDocument: proxyTrust }))).Role!.Arn!;
    await h.iam.send(new PutRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy-v2', PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: h.moto.accountId }, CLUSTER)) }));
    await createRotateHandler({ ...h.deps, reconcileWriter: directReconcileWriter(h.deps) })({ source: 'podiam', 'detail-type': 'podiam rotate', detail: { cluster: CLUSTER, action: 'begin-intermediate-rotation', newRoleArn: v2 } });
    for (const role of managed) assert.ok((await principals(role)).includes(v2), role);
    await h.iam.send(new DeleteRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy-v2', PolicyName: 'podiam-assume-managed-roles' }));
    await h.iam.send(new DeleteRoleCommand({ RoleName: 'podiam-prod-node-proxy-v2' }));

    const answer = await handle(cloudTrail('DeleteRole', 'podiam-prod-node-proxy-v2'));

    assert.equal('scope' in answer && answer.scope, 'cluster');
    for (const role of managed) assert.deepEqual(await principals(role), [h.proxyRoleArn], role);
  });

  it('ignores CreateRole of an unrelated role and the intermediate role events reconcile made itself', async () => {
    h.calls.reset();
    assert.ok('ignored' in (await handle(cloudTrail('CreateRole', 'some-ci-role'))));
    assert.ok('ignored' in (await handle(cloudTrail('CreateRole', PROXY_ROLE_NAME, SELF))));
    assert.equal(h.calls.total(), 0);
  });
});
