// IAM throttling and slow IAM, against moto through a fault injector in front of it
// (test/peers/iam-fault-injector.ts; moto itself never throttles). The functions' own IAM client
// (createAwsClients: the SDK's standard retry with the configured attempt budget, the one retry
// layer) talks to the injector, which answers chosen attempts with IAM's real Throttling error
// (400 + XML) or holds them, counts every attempt, and forwards the rest to moto.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetRoleCommand, type IAMClient } from '@aws-sdk/client-iam';
import { managedRoleName } from '../../../core/src/naming.ts';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import { createAwsClients, IAM_MAX_ATTEMPTS } from '../../../functions/lib/aws-clients.ts';
import { countCalls } from '../../../functions/lib/call-counter.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { startIamFaultInjector, type IamFaultInjector } from '../../peers/iam-fault-injector.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';

let h: Harness;
let faults: IamFaultInjector;
before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  faults = await startIamFaultInjector(h.moto.endpoint);
});
after(async () => {
  await faults?.stop();
  await h?.stop();
});
beforeEach(() => faults.reset());

const roleName = (namespace: string, service: string) => managedRoleName({ cluster: CLUSTER, namespace, service });

/** The IAM client a function builds (its retry budget included), pointed at the fault injector. */
function functionsIam(maxAttempts: number): IAMClient {
  const { iam, s3, sts } = createAwsClients({ region: h.config.region, awsEndpoint: faults.endpoint }, h.env, maxAttempts);
  s3.destroy();
  sts.destroy();
  after(() => iam.destroy());
  return iam;
}

async function roleExists(name: string): Promise<boolean> {
  try {
    await h.iam.send(new GetRoleCommand({ RoleName: name }));
    return true;
  } catch (err: unknown) {
    if ((err as Error).name.startsWith('NoSuchEntity')) return false;
    throw err;
  }
}

async function admissionAnswer(iam: IAMClient, budgetMs: number, service: string) {
  const admit = createAdmissionHandler({
    iam,
    s3: h.deps.s3,
    config: { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs, bundleCacheMs: 30000 },
    accountId: h.deps.accountId,
    log: () => {},
  });
  const res = (await admit(urlEvent(podReview({ namespace: 'dns', annotations: { 'iam.amazonaws.com/role': service } })))) as { statusCode: number; body: string };
  // No decision: a Kubernetes Status (the error body the API server reads), the code leading its message.
  const status = JSON.parse(res.body) as { kind: string; code: number; message: string };
  return { status: res.statusCode, kind: status.kind, message: status.message };
}

describe('IAM throttling: one retry layer, the SDK', () => {
  it('creates the role when its first two CreateRole attempts are throttled, and the next run writes nothing', async () => {
    const iam = functionsIam(IAM_MAX_ATTEMPTS.reconcile);
    const calls = countCalls(iam);
    const name = roleName('orders', 'reader');
    faults.throttle('CreateRole', 2);

    const summary = await reconcile({ ...h.deps, iam }, { trigger: 'test', scope: [name] });

    assert.equal(summary.planned['create-role'], 1);
    assert.equal(calls.byName().CreateRole, 1, 'one CreateRole call for the role');
    assert.equal(faults.attempts('CreateRole'), 3, 'two throttled attempts and the one that succeeded');
    assert.equal(await roleExists(name), true);
    calls.reset();
    await reconcile({ ...h.deps, iam }, { trigger: 'test', scope: [name] });
    assert.equal(calls.writes(), 0);
  });

  it('fails the run with PODIAM_IAM_THROTTLED after exactly the configured attempts when every attempt is throttled', async () => {
    const iam = functionsIam(IAM_MAX_ATTEMPTS.reconcile);
    const name = roleName('orders', 'writer');
    faults.throttle('CreateRole', 1000);

    await assert.rejects(reconcile({ ...h.deps, iam }, { trigger: 'test', scope: [name] }), (err: unknown) => {
      const e = err as { code?: string; failures?: { roleName: string; code: string; message: string }[] };
      assert.equal(e.code, 'PODIAM_RECONCILE_FAILED');
      assert.deepEqual(e.failures!.map((f) => [f.roleName, f.code]), [[name, 'PODIAM_IAM_THROTTLED']]);
      assert.match(e.failures![0]!.message, new RegExp(`CreateRole was still throttled after ${IAM_MAX_ATTEMPTS.reconcile} attempts`));
      return true;
    });
    // The budget is the SDK's alone: no second layer multiplies it.
    assert.equal(faults.attempts('CreateRole'), IAM_MAX_ATTEMPTS.reconcile);
    assert.equal(await roleExists(name), false);
  });

  it('reports throttled reads with PODIAM_IAM_THROTTLED too, after the same budget', async () => {
    const iam = functionsIam(IAM_MAX_ATTEMPTS.reconcile);
    faults.throttle('ListRoles', 1000);

    await assert.rejects(reconcile({ ...h.deps, iam }, { trigger: 'test' }), { code: 'PODIAM_IAM_THROTTLED' });
    assert.equal(faults.attempts('ListRoles'), IAM_MAX_ATTEMPTS.reconcile);
  });
});

describe('IAM throttling and slowness within the admission budget', () => {
  it('answers HTTP 503 PODIAM_IAM_THROTTLED (the failurePolicy decides) after the admission budget of attempts when IAM keeps throttling', async () => {
    const iam = functionsIam(IAM_MAX_ATTEMPTS.admission);
    faults.throttle('CreateRole', 1000);

    const response = await admissionAnswer(iam, 4500, 'updater');

    assert.equal(response.status, 503);
    assert.equal(response.kind, 'Status');
    assert.match(response.message, new RegExp(`^PODIAM_IAM_THROTTLED: IAM CreateRole was still throttled after ${IAM_MAX_ATTEMPTS.admission} attempts`));
    assert.equal(faults.attempts('CreateRole'), IAM_MAX_ATTEMPTS.admission);
    assert.equal(await roleExists(roleName('dns', 'updater')), false);
  });

  it('answers HTTP 503 within its budget when IAM is too slow to create the role, and the abandoned call creates nothing', { timeout: 30_000 }, async () => {
    const iam = functionsIam(IAM_MAX_ATTEMPTS.admission);
    faults.hold('CreateRole');

    const response = await admissionAnswer(iam, 800, 'updater');
    await faults.heldClientsGone();
    faults.release();

    assert.equal(response.status, 503);
    assert.match(response.message, /^PODIAM_ROLE_CREATE_PENDING: the role could not be created within 800 ms/);
    assert.equal(faults.held('CreateRole'), 1);
    assert.equal(await roleExists(roleName('dns', 'updater')), false);
  });
});
