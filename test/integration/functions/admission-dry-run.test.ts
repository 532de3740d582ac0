// Issue 10 item 4: `kubectl apply --dry-run=server` must change nothing in IAM. The admission
// handler creates a missing role on demand; for a review with request.dryRun it may only say that
// it would. The real handler runs against moto; IAM is compared before and after, and every
// command the handler sends is counted.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { createAdmissionHandler, type AdmissionHandler } from '../../../functions/admission/handler.ts';
import type { AdmissionConfig } from '../../../functions/lib/config.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';
import { managedRoleName } from '../../../core/src/naming.ts';

const WRITER = managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'writer' });
let h: Harness;
let admit: AdmissionHandler;

async function roleNames(): Promise<string[]> {
  const out = await h.iam.send(new ListRolesCommand({ MaxItems: 1000 }));
  return (out.Roles ?? []).map((r) => r.RoleName!).sort();
}

async function review(opts: Parameters<typeof podReview>[0]) {
  const res = (await admit(urlEvent(podReview(opts)))) as { statusCode: number; body: string };
  return { status: res.statusCode, body: JSON.parse(res.body) as { response: { allowed: boolean; warnings?: string[]; status?: { message: string } } } };
}

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf([service('orders', 'reader'), service('orders', 'writer')]));
  // reader exists in IAM; writer is only in the bundle, so a real create would create it.
  await reconcile(h.deps, { trigger: 'setup', scope: [managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'reader' })] });
  const config: AdmissionConfig = { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 30000 };
  admit = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: h.deps.log });
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

describe('admission of a server-side dry run', () => {
  it('admits a dry-run pod whose role is in the bundle but missing in IAM, and leaves IAM unchanged', async () => {
    const before = await roleNames();
    assert.ok(!before.includes(WRITER));

    const { status, body } = await review({ annotations: { 'iam.amazonaws.com/role': 'writer' }, dryRun: true, uid: 'dry-1' });

    assert.equal(h.calls.writes(), 0, `IAM writes during a dry run: ${JSON.stringify(h.calls.byName())}`);
    assert.deepEqual(await roleNames(), before);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: WRITER })), { name: 'NoSuchEntityException' });
    assert.equal(status, 200);
    assert.equal(body.response.allowed, true);
    assert.deepEqual(body.response.warnings, [`dry run: role ${WRITER} does not exist yet and would be created`]);
  });

  it('answers a repeated dry run the same way: nothing was remembered as created', async () => {
    const { body } = await review({ annotations: { 'iam.amazonaws.com/role': 'writer' }, dryRun: true, uid: 'dry-2' });
    assert.match(body.response.warnings?.[0] ?? '', /would be created/);
    assert.equal(h.calls.writes(), 0);
  });

  it('still creates the role for the same pod without dry run (the dry-run answer was not a refusal)', async () => {
    const { body } = await review({ annotations: { 'iam.amazonaws.com/role': 'writer' }, uid: 'real-1' });
    assert.equal(body.response.allowed, true);
    assert.equal(h.calls.byName().CreateRole, 1);
    assert.ok((await roleNames()).includes(WRITER));
  });
});
