// Issue 10 item 3: a role name could reach another namespace's role. Besides the one-to-one
// name (test/unit/core/naming.test.ts) and the trust's namespace binding (trust-links.test.ts),
// the functions use, change, adopt or delete a role only when its podiam tags name exactly the
// (cluster, namespace, service) it is used for. Driven through the real handlers against moto.
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
  type IAMClient,
} from '@aws-sdk/client-iam';
import { createAdmissionHandler, type AdmissionHandler } from '../../../functions/admission/handler.ts';
import type { AdmissionConfig } from '../../../functions/lib/config.ts';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';

const scheduled = JSON.parse(readFileSync(new URL('../../../events/reconcile-scheduled.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const foreignTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }] });
const foreignPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] });

let h: Harness;
let admit: AdmissionHandler;

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf([service('orders', 'reader'), service('orders', 'writer'), service('orders', 'lister'), service('orders', 'auditor')]));
  const config: AdmissionConfig = { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 30000 };
  admit = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: h.deps.log });
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

/** Everything IAM holds about a role that podiam could change. */
async function snapshot(iam: IAMClient, name: string) {
  const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
  const inlineNames = (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? [];
  const inline: Record<string, string> = {};
  for (const p of inlineNames) inline[p] = decodeURIComponent((await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: p }))).PolicyDocument!);
  const attached = (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? [];
  return {
    path: role.Path,
    tags: Object.fromEntries((role.Tags ?? []).map((t) => [t.Key, t.Value])),
    trust: decodeURIComponent(role.AssumeRolePolicyDocument!),
    description: role.Description,
    maxSessionDuration: role.MaxSessionDuration,
    boundary: role.PermissionsBoundary?.PermissionsBoundaryArn,
    inline,
    attached: attached.map((a) => a.PolicyArn),
  };
}

async function seed(name: string, tags: Record<string, string>): Promise<void> {
  await h.iam.send(
    new CreateRoleCommand({ RoleName: name, Path: '/podiam/prod/', AssumeRolePolicyDocument: foreignTrust, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
  );
  await h.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'hand-made', PolicyDocument: foreignPolicy }));
}

async function answer(body: unknown) {
  const res = (await admit(urlEvent(body))) as { statusCode: number; body: string };
  return JSON.parse(res.body) as { response?: { allowed: boolean; status?: { message: string; code: number } } };
}

describe('the admission webhook never takes over a role of the desired name that is not this service’s', () => {
  it('refuses a pod whose role name is held by an untagged role, and leaves that role exactly as it was', async () => {
    await seed('prod.orders.writer', {});
    const before = await snapshot(h.iam, 'prod.orders.writer');
    h.calls.reset();

    const body = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'writer' } }));

    assert.equal(body.response?.allowed, false);
    assert.match(body.response!.status!.message, /^PODIAM_ROLE_NAME_COLLISION: .*prod\.orders\.writer/);
    assert.equal(h.calls.writes(), 0, JSON.stringify(h.calls.byName()));
    assert.deepEqual(await snapshot(h.iam, 'prod.orders.writer'), before);
  });

  it('refuses a pod whose role name is held by a role tagged for another namespace, and leaves it as it was', async () => {
    await seed('prod.orders.lister', { 'podiam:cluster': 'prod', 'podiam:namespace': 'billing', 'podiam:service': 'lister' });
    const before = await snapshot(h.iam, 'prod.orders.lister');
    h.calls.reset();

    const body = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'lister' } }));

    assert.equal(body.response?.allowed, false);
    assert.match(body.response!.status!.message, /^PODIAM_ROLE_NAME_COLLISION: .*billing\/lister, not orders\/lister/);
    assert.equal(h.calls.writes(), 0, JSON.stringify(h.calls.byName()));
    assert.deepEqual(await snapshot(h.iam, 'prod.orders.lister'), before);
  });
});

describe('reconcile changes, adopts and deletes only roles whose tags name that exact service', () => {
  it('reports a role of the desired name tagged for another namespace as a collision and never changes it', async () => {
    const before = await snapshot(h.iam, 'prod.orders.lister');
    const summary = await createReconcileHandler(h.deps)(scheduled);
    assert.ok(!('ignored' in summary));
    const collided = summary.collisions.map((c) => c.roleName).sort();
    assert.deepEqual(collided, ['prod.orders.lister', 'prod.orders.writer']);
    assert.match(summary.collisions.find((c) => c.roleName === 'prod.orders.lister')!.reason, /tags of billing\/lister, not of orders\/lister/);
    assert.deepEqual(await snapshot(h.iam, 'prod.orders.lister'), before);
  });

  it('never deletes a role tagged for this cluster whose name is not its tagged service’s role name', async () => {
    // Tagged orders/gone (not in the bundle), but named like another service's role.
    await seed('prod.orders.impostor', { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'gone' });
    const before = await snapshot(h.iam, 'prod.orders.impostor');
    const summary = await createReconcileHandler(h.deps)(scheduled);
    assert.ok(!('ignored' in summary));
    assert.equal(summary.planned['delete-role'], undefined);
    assert.equal(h.calls.byName().DeleteRole, undefined);
    assert.deepEqual(await snapshot(h.iam, 'prod.orders.impostor'), before);
    assert.ok(summary.notes.some((n) => /prod\.orders\.impostor .*left alone/.test(n)), summary.notes.join('\n'));
  });
});
