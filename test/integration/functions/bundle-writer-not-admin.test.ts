// Issue 10, item 2: whoever can write the bundle must not be an administrator. Against moto, with
// the real reconcile handler and admission handler: the boundary comes only from the stack (a
// bundle can neither set, change nor remove it), and a bundle may attach only the managed
// policies on the stack's allowlist, so attaching AdministratorAccess is refused with nothing
// written.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CreatePolicyCommand, GetRoleCommand, ListAttachedRolePoliciesCommand, type IAMClient } from '@aws-sdk/client-iam';
import { PodiamError } from '../../../core/src/errors.ts';
import { managedRoleName } from '../../../core/src/naming.ts';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import type { AdmissionConfig, FunctionsConfig } from '../../../functions/lib/config.ts';
import type { ReconcileDeps } from '../../../functions/lib/reconcile.ts';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { bundleOf, exampleBundle, service } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';

const published = JSON.parse(readFileSync(new URL('../../../events/reconcile-bundle-published.json', import.meta.url), 'utf8')) as unknown;
const AWS_ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

let h: Harness;
let stackBoundary: string;
let otherBoundary: string;
/** A customer managed policy granting everything: attaching it would succeed in moto, so "nothing attached" means refused. */
let customerAdmin: string;

async function createPolicy(iam: IAMClient, name: string, action: string): Promise<string> {
  const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] };
  return (await iam.send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: JSON.stringify(doc) }))).Policy!.Arn!;
}

/** The handler of a stack with these settings (the harness's stack opts out of a boundary). */
function reconcileWith(config: Partial<FunctionsConfig>, extra: Partial<ReconcileDeps> = {}) {
  const deps: ReconcileDeps = { ...h.deps, config: { ...h.config, ...config }, ...extra };
  return createReconcileHandler(deps);
}

/** Log lines and metrics a handler wrote. */
function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const metrics: { name: string; value: number; dimensions: Record<string, string> }[] = [];
  return {
    lines,
    metrics,
    log: (level: string, msg: string, fields: Record<string, unknown> = {}) => lines.push({ level, msg, fields }),
    metric: (name: string, value: number, dimensions: Record<string, string>) => metrics.push({ name, value, dimensions }),
  };
}

const roleName = (namespace: string, svc: string) => managedRoleName({ cluster: CLUSTER, namespace, service: svc });

async function boundaryOf(name: string): Promise<string | undefined> {
  return (await h.iam.send(new GetRoleCommand({ RoleName: name }))).Role!.PermissionsBoundary?.PermissionsBoundaryArn;
}

function refusedWith(code: string) {
  return (err: unknown) => err instanceof PodiamError && err.code === code;
}

before(async () => {
  h = await startHarness();
  stackBoundary = await createPolicy(h.iam, 'podiam-test-boundary', 's3:*');
  otherBoundary = await createPolicy(h.iam, 'podiam-test-wide-boundary', '*');
  customerAdmin = await createPolicy(h.iam, 'podiam-test-admin', '*');
  // Roles created by a stack with a boundary: the starting point of every test below.
  await h.publish(exampleBundle());
  await reconcileWith({ permissionsBoundaryArn: stackBoundary })(published);
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

describe('the bundle writer is not an administrator (boundary only from the stack)', () => {
  it('refuses a bundle whose guardrails name another boundary than the stack’s, and every role keeps the stack’s', async () => {
    await h.publish(bundleOf(exampleBundle().services, { permissionsBoundaryArn: otherBoundary }));
    await assert.rejects(reconcileWith({ permissionsBoundaryArn: stackBoundary })(published), refusedWith('PODIAM_BOUNDARY_MISMATCH'));
    assert.equal(h.calls.writes(), 0);
    for (const s of exampleBundle().services) assert.equal(await boundaryOf(roleName(s.namespace, s.service)), stackBoundary);
  });

  it('does not let a bundle set a boundary where the stack has none: refused, and the roles are unchanged', async () => {
    await h.publish(bundleOf(exampleBundle().services, { permissionsBoundaryArn: otherBoundary }));
    await assert.rejects(reconcileWith({})(published), refusedWith('PODIAM_BOUNDARY_MISMATCH'));
    assert.equal(h.calls.writes(), 0);
    assert.equal(await boundaryOf(roleName('orders', 'writer')), stackBoundary);
  });

  it('never removes a boundary, even when the stack sets none', async () => {
    await h.publish(exampleBundle());
    await reconcileWith({})(published);
    assert.equal(h.calls.byName().DeleteRolePermissionsBoundary ?? 0, 0);
    for (const s of exampleBundle().services) assert.equal(await boundaryOf(roleName(s.namespace, s.service)), stackBoundary);
  });
});

describe('the bundle writer is not an administrator (managed policies only from the stack’s allowlist)', () => {
  const attacking = () => bundleOf([...exampleBundle().services, service('orders', 'sneaky', { managedPolicyArns: [AWS_ADMIN, customerAdmin] })]);

  it('refuses a bundle attaching AdministratorAccess in reconcile, creating and attaching nothing', async () => {
    await h.publish(attacking());
    await assert.rejects(
      reconcileWith({ permissionsBoundaryArn: stackBoundary })(published),
      (err: unknown) => refusedWith('PODIAM_MANAGED_POLICY_NOT_ALLOWED')(err) && (err as Error).message.includes(AWS_ADMIN),
    );
    assert.equal(h.calls.writes(), 0);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: roleName('orders', 'sneaky') })), { name: 'NoSuchEntityException' });
    const attached = await h.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName('orders', 'writer') }));
    assert.deepEqual((attached.AttachedPolicies ?? []).map((p) => p.PolicyArn), h.config.attachableManagedPolicyArns);
  });

  it('refuses, in admission, a pod whose service attaches AdministratorAccess, and creates no role', async () => {
    await h.publish(attacking());
    const config: AdmissionConfig = { ...h.config, permissionsBoundaryArn: stackBoundary, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 0 };
    const admit = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: h.deps.log });
    const res = (await admit(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'sneaky' }, uid: 'u-admin' })))) as { statusCode: number; body: string };
    const review = JSON.parse(res.body) as { response: { allowed: boolean; status?: { message: string } } };
    assert.equal(review.response.allowed, false);
    assert.match(review.response.status?.message ?? '', /PODIAM_MANAGED_POLICY_NOT_ALLOWED/);
    assert.equal(h.calls.writes(), 0);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: roleName('orders', 'sneaky') })), { name: 'NoSuchEntityException' });
  });
});

describe('the bundle writer is not an administrator (guardrails re-checked on every bundle read)', () => {
  // Built like `podiam publish` builds it, hash and all, but never through `podiam check`.
  const breaking = () =>
    bundleOf(
      [
        ...exampleBundle().services,
        service('orders', 'escalator', { policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:*'], Resource: '*' }] } }),
      ],
      { deniedActions: [{ action: 'iam:*', reason: 'Workloads must not manage IAM.' }] },
    );

  it('refuses in reconcile a bundle with a valid hash that breaks its guardrails, logs the finding codes, counts it, and changes no role', async () => {
    await h.publish(breaking());
    const seen = recorder();
    await assert.rejects(reconcileWith({ permissionsBoundaryArn: stackBoundary }, { log: seen.log, metric: seen.metric })(published), refusedWith('PODIAM_BUNDLE_GUARDRAILS_FAILED'));
    assert.equal(h.calls.writes(), 0);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: roleName('orders', 'escalator') })), { name: 'NoSuchEntityException' });
    const refusal = seen.lines.find((l) => l.fields.code === 'PODIAM_BUNDLE_GUARDRAILS_FAILED');
    assert.deepEqual(refusal?.fields.findingCodes, ['PODIAM_CHECK_GUARDRAIL_ACTION']);
    assert.deepEqual(seen.metrics, [{ name: 'BundleRefused', value: 1, dimensions: { Function: 'reconcile' } }]);
  });

  it('refuses in admission a pod of such a bundle, and creates no role', async () => {
    await h.publish(breaking());
    const seen = recorder();
    const config: AdmissionConfig = { ...h.config, permissionsBoundaryArn: stackBoundary, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 0 };
    const admit = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: seen.log, metric: seen.metric });
    const res = (await admit(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'escalator' }, uid: 'u-guardrails' })))) as { statusCode: number; body: string };
    const review = JSON.parse(res.body) as { response: { allowed: boolean; status?: { message: string } } };
    assert.equal(review.response.allowed, false);
    assert.match(review.response.status?.message ?? '', /^PODIAM_BUNDLE_GUARDRAILS_FAILED: .*PODIAM_CHECK_GUARDRAIL_ACTION/);
    assert.equal(h.calls.writes(), 0);
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: roleName('orders', 'escalator') })), { name: 'NoSuchEntityException' });
    assert.deepEqual(seen.metrics, [{ name: 'BundleRefused', value: 1, dimensions: { Function: 'admission' } }]);
  });
});
