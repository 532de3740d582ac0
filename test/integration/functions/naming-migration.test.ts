// Roles of the earlier name shape (<cluster>-<ns>-<svc>) become roles of the current one
// (<cluster>.<ns>.<svc>): reconcile recognises them by their podiam tags, creates the new role,
// then deletes the old one, never the other way round; `podiam plan` shows the migration.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { computePlan } from '../../../cli/src/plan/compute-plan.ts';
import { renderPlanHuman } from '../../../cli/src/plan/render-plan.ts';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { applyPlan } from '../../../functions/lib/apply.ts';
import { policiesEqual } from '../../../iam-model/src/policy-compare.ts';
import { serviceRoleTrustPolicy } from '../../../iam-model/src/trust.ts';
import { bundleOf, exampleBundle, service, XRAY_POLICY_ARN } from '../../unit/functions/fixtures.ts';
import { startHarness, type Harness } from './harness.ts';

const scheduled = JSON.parse(readFileSync(new URL('../../../events/reconcile-scheduled.json', import.meta.url), 'utf8')) as Record<string, unknown>;

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h?.stop());

const tagsOf = (cluster: string, namespace: string, svc: string) => [
  { Key: 'podiam:cluster', Value: cluster },
  { Key: 'podiam:namespace', Value: namespace },
  { Key: 'podiam:service', Value: svc },
];

/** A managed role as the earlier version created it: old name, same path, tags, trust and policies. */
async function seedOldShapeRole(name: string, namespace: string, svc: string, policy: unknown, managed: string[] = []): Promise<void> {
  await h.iam.send(
    new CreateRoleCommand({
      RoleName: name,
      Path: '/podiam/prod/',
      AssumeRolePolicyDocument: JSON.stringify(serviceRoleTrustPolicy({ intermediateRoleArns: [h.proxyRoleArn] }, namespace)),
      Tags: tagsOf('prod', namespace, svc),
    }),
  );
  await h.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'podiam-service-policy', PolicyDocument: JSON.stringify(policy) }));
  for (const arn of managed) await h.iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
}

async function exists(iam: IAMClient, name: string): Promise<boolean> {
  try {
    await iam.send(new GetRoleCommand({ RoleName: name }));
    return true;
  } catch (err: unknown) {
    if ((err as { name?: string }).name === 'NoSuchEntityException') return false;
    throw err;
  }
}

describe('migration from <cluster>-<ns>-<svc> role names, against moto', () => {
  it('plans each old-shape role as a create of the new name that migrates it, and a delete of the old after it', async () => {
    const bundle = exampleBundle();
    const writer = bundle.services.find((s) => s.service === 'writer')!;
    await seedOldShapeRole('prod-orders-writer', 'orders', 'writer', writer.policy, [XRAY_POLICY_ARN]);
    await seedOldShapeRole('prod-dns-updater', 'dns', 'updater', bundle.services.find((s) => s.service === 'updater')!.policy);
    await h.publish(bundle);

    const { desired, plan } = await computePlan(h.iam, bundle, { cluster: 'prod', accountId: h.moto.accountId, intermediateRoleArns: [h.proxyRoleArn] });
    const out = renderPlanHuman(desired, plan);
    assert.match(out, /^ {2}\+ role prod\.orders\.writer \(policies\/orders\/writer\.json\), migrates prod-orders-writer /m);
    assert.match(out, /^ {2}- role prod-orders-writer: migrated to prod\.orders\.writer/m);
    assert.match(out, /^ {2}\+ role prod\.dns\.updater .*migrates prod-dns-updater/m);
    // orders/reader had no role: a plain create.
    assert.match(out, /^ {2}\+ role prod\.orders\.reader \(policies\/orders\/reader\.json\)$/m);
    const kinds = plan.changes.map((c) => `${c.kind} ${c.roleName}`);
    assert.ok(kinds.indexOf('delete-role prod-orders-writer') > kinds.indexOf('create-role prod.orders.writer'));
  });

  it('creates the new role with the same policies and tags, then deletes the old one', async () => {
    const summary = await createReconcileHandler(h.deps)(scheduled);
    assert.ok(!('ignored' in summary));
    assert.equal(summary.planned['create-role'], 3);
    assert.equal(summary.planned['delete-role'], 2);
    assert.deepEqual(summary.collisions, []);

    for (const old of ['prod-orders-writer', 'prod-dns-updater']) assert.equal(await exists(h.iam, old), false, `${old} is gone`);
    const role = (await h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.writer' }))).Role!;
    assert.equal(role.Path, '/podiam/prod/');
    assert.deepEqual(Object.fromEntries(role.Tags!.map((t) => [t.Key, t.Value])), { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'writer' });
    const inline = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'prod.orders.writer', PolicyName: 'podiam-service-policy' }));
    assert.ok(policiesEqual(decodeURIComponent(inline.PolicyDocument!), exampleBundle().services.find((s) => s.service === 'writer')!.policy));
    const attached = await h.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'prod.orders.writer' }));
    assert.deepEqual(attached.AttachedPolicies!.map((p) => p.PolicyArn), [XRAY_POLICY_ARN]);
    const trust = decodeURIComponent(role.AssumeRolePolicyDocument!);
    assert.match(trust, /"aws:RequestTag\/kubernetes-namespace":"orders"/);
  });

  it('keeps an old-shape role while the new name is held by a role that is not ours, and reports the collision', async () => {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const policy = service('orders', 'lister').policy;
    await seedOldShapeRole('prod-orders-lister', 'orders', 'lister', policy);
    await h.iam.send(new CreateRoleCommand({ RoleName: 'prod.orders.lister', Path: '/podiam/prod/', AssumeRolePolicyDocument: trust }));
    await h.publish(bundleOf([...exampleBundle().services, service('orders', 'lister')]));

    const summary = await createReconcileHandler(h.deps)(scheduled);
    assert.ok(!('ignored' in summary));
    assert.deepEqual(summary.collisions.map((c) => c.roleName), ['prod.orders.lister']);
    assert.equal(summary.planned['delete-role'], undefined);
    assert.equal(await exists(h.iam, 'prod-orders-lister'), true, 'the old role is kept until its successor exists');
    assert.deepEqual((await h.iam.send(new ListRolePoliciesCommand({ RoleName: 'prod.orders.lister' }))).PolicyNames, []);
    assert.ok(summary.notes.some((n) => /prod-orders-lister .*kept until prod\.orders\.lister/.test(n)), summary.notes.join('\n'));
  });

  it('skips a migration delete whose successor does not exist when the delete is applied', async () => {
    const result = await applyPlan(
      h.deps.iam,
      [{ kind: 'delete-role', roleName: 'prod-orders-lister', inlinePolicyNames: ['podiam-service-policy'], managedPolicyArns: [], reason: 'test', replacedBy: 'prod.orders.nobody' }],
      { cluster: 'prod' },
    );
    assert.deepEqual(result.applied, []);
    assert.equal(await exists(h.iam, 'prod-orders-lister'), true);
  });
});
