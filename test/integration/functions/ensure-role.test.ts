// The admission function's IAM half (functions/lib/ensure-role.ts) against moto: what it creates,
// what it leaves alone, what it refuses to adopt, and that it answers by its deadline. The slow-IAM
// case puts a fault injector (test/peers/iam-fault-injector.ts) in front of the same moto.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { createAwsClients, IAM_MAX_ATTEMPTS } from '../../../functions/lib/aws-clients.ts';
import { createRoleEnsurer } from '../../../functions/lib/ensure-role.ts';
import { buildDesiredState, type DesiredRole } from '../../../iam-model/src/desired-state.ts';
import { parseIamDocument, policiesEqual } from '../../../iam-model/src/policy-compare.ts';
import { bundleOf, service, XRAY_POLICY_ARN } from '../../unit/functions/fixtures.ts';
import { startIamFaultInjector, type IamFaultInjector } from '../../peers/iam-fault-injector.ts';
import { startHarness, CLUSTER, type Harness } from './harness.ts';

let h: Harness;
let roles: Map<string, DesiredRole>;

before(async () => {
  h = await startHarness();
  const xray = XRAY_POLICY_ARN.replace('123456789012', h.moto.accountId);
  const bundle = bundleOf([
    service('orders', 'reader'),
    service('orders', 'writer', { managedPolicyArns: [xray] }),
    service('orders', 'existing'),
    service('orders', 'squatted'),
    service('orders', 'foreign'),
    service('orders', 'slow'),
    service('orders', 'dry'),
  ]);
  const desired = buildDesiredState(bundle, {
    cluster: CLUSTER,
    accountId: h.moto.accountId,
    intermediateRoleArns: [h.proxyRoleArn],
  });
  roles = new Map(desired.roles.map((r) => [r.ref.service, r]));
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

const role = (svc: string): DesiredRole => roles.get(svc) ?? assert.fail(`no desired role for ${svc}`);
const inAMinute = () => ({ deadline: Date.now() + 60_000, dryRun: false });

async function roleExists(name: string): Promise<boolean> {
  try {
    await h.iam.send(new GetRoleCommand({ RoleName: name }));
    return true;
  } catch (err: unknown) {
    if ((err as Error).name === 'NoSuchEntityException' || (err as Error).name === 'NoSuchEntity') return false;
    throw err;
  }
}

describe('ensureRole: the admission function creates a missing managed role on demand', () => {
  it('creates a missing role of the bundle with its path, tags, trust policy, inline and managed policies', async () => {
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });
    const writer = role('writer');

    const outcome = await ensure(writer, inAMinute());

    assert.deepEqual(outcome, { state: 'created' });
    const got = (await h.iam.send(new GetRoleCommand({ RoleName: writer.name }))).Role!;
    assert.equal(got.Path, writer.path);
    assert.equal(got.MaxSessionDuration, writer.maxSessionDuration);
    assert.deepEqual(Object.fromEntries((got.Tags ?? []).map((t) => [t.Key, t.Value])), writer.tags);
    assert.ok(policiesEqual(parseIamDocument(got.AssumeRolePolicyDocument), writer.trustPolicy), 'the trust policy is the desired one');
    const inline = await h.iam.send(new GetRolePolicyCommand({ RoleName: writer.name, PolicyName: writer.inlinePolicyName }));
    assert.ok(policiesEqual(parseIamDocument(inline.PolicyDocument), writer.inlinePolicy), 'the inline policy is the desired one');
    const attached = await h.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: writer.name }));
    assert.deepEqual(attached.AttachedPolicies?.map((p) => p.PolicyArn), writer.managedPolicyArns);
  });

  it('leaves an existing managed role alone: one GetRole and no write', async () => {
    await createRoleEnsurer(h.deps.iam, { cluster: CLUSTER })(role('existing'), inAMinute());
    h.calls.reset();
    // A fresh ensurer (a new Lambda instance) knows nothing and must ask IAM.
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });

    const outcome = await ensure(role('existing'), inAMinute());

    assert.deepEqual(outcome, { state: 'exists' });
    assert.deepEqual(h.calls.byName(), { GetRole: 1 });
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses a same-named role without podiam tags with PODIAM_ROLE_NAME_COLLISION and changes nothing of it', async () => {
    const squatted = role('squatted');
    const foreignTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
    await h.iam.send(new CreateRoleCommand({ RoleName: squatted.name, AssumeRolePolicyDocument: JSON.stringify(foreignTrust) }));
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });

    const outcome = await ensure(squatted, inAMinute());

    assert.equal(outcome.state, 'collision');
    assert.equal(outcome.state === 'collision' && outcome.code, 'PODIAM_ROLE_NAME_COLLISION');
    assert.match(outcome.state === 'collision' ? outcome.message : '', /never adopts it/);
    assert.equal(h.calls.writes(), 0);
    const after = (await h.iam.send(new GetRoleCommand({ RoleName: squatted.name }))).Role!;
    assert.equal(after.Path, '/');
    assert.deepEqual(after.Tags ?? [], []);
    assert.ok(policiesEqual(parseIamDocument(after.AssumeRolePolicyDocument), foreignTrust), 'its trust policy is untouched');
    assert.deepEqual((await h.iam.send(new ListRolePoliciesCommand({ RoleName: squatted.name }))).PolicyNames, []);
  });

  it("refuses a same-named role on the cluster's path that carries another cluster's tags", async () => {
    const foreign = role('foreign');
    await h.iam.send(
      new CreateRoleCommand({
        RoleName: foreign.name,
        Path: foreign.path,
        AssumeRolePolicyDocument: JSON.stringify(foreign.trustPolicy),
        Tags: Object.entries({ ...foreign.tags, 'podiam:cluster': 'other' }).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });

    const outcome = await ensure(foreign, inAMinute());

    assert.equal(outcome.state, 'collision');
    assert.equal(h.calls.writes(), 0);
    assert.deepEqual((await h.iam.send(new ListRolePoliciesCommand({ RoleName: foreign.name }))).PolicyNames, []);
  });

  it('creates nothing on a dry run and says the role would be created', async () => {
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });

    const outcome = await ensure(role('dry'), { deadline: Date.now() + 60_000, dryRun: true });

    assert.deepEqual(outcome, { state: 'would-create' });
    assert.equal(h.calls.writes(), 0);
    assert.equal(await roleExists(role('dry').name), false);
  });
});

describe('ensureRole: its time budget', () => {
  let faults: IamFaultInjector;
  before(async () => {
    faults = await startIamFaultInjector(h.moto.endpoint);
  });
  after(() => faults?.stop());

  it('answers pending at its deadline while IAM holds the CreateRole, and the abandoned call creates nothing', { timeout: 30_000 }, async () => {
    // The admission function's own client (its retry budget), pointed at the injector.
    const { iam } = createAwsClients({ region: h.config.region, awsEndpoint: faults.endpoint }, h.env, IAM_MAX_ATTEMPTS.admission);
    after(() => iam.destroy());
    faults.hold('CreateRole');
    const ensure = createRoleEnsurer(iam, { cluster: CLUSTER });

    // The CreateRole is held until after the answer: only the deadline can end this call.
    const outcome = await ensure(role('slow'), { deadline: Date.now() + 700, dryRun: false });
    // The call was aborted, not just abandoned: its connection closes, so it can never reach IAM.
    await faults.heldClientsGone();
    faults.release();

    assert.equal(outcome.state, 'pending');
    assert.equal(faults.held('CreateRole'), 1, 'the CreateRole was sent and still unanswered at the deadline');
    assert.equal(await roleExists(role('slow').name), false);
  });

  it('answers pending without calling IAM when the deadline has already passed', async () => {
    const ensure = createRoleEnsurer(h.deps.iam, { cluster: CLUSTER });

    const outcome = await ensure(role('reader'), { deadline: Date.now() - 1, dryRun: false });

    assert.equal(outcome.state, 'pending');
    assert.equal(h.calls.total(), 0);
  });
});
