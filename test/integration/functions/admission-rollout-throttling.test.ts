// Issue 11 item 12: a large rollout under IAM throttling. Each admission used to cost its own
// GetRole, and a failure to decide was answered 200 allowed:false — a real denial to the API
// server, so the chart's failurePolicy never applied. The real admission handler with the
// functions' own IAM client (the SDK's standard retry, 3 attempts for admission) talks to moto
// through the fault injector (test/peers/iam-fault-injector.ts), which throttles chosen attempts
// with IAM's real Throttling error and counts every attempt.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IAMClient } from '@aws-sdk/client-iam';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import { createAwsClients, IAM_MAX_ATTEMPTS } from '../../../functions/lib/aws-clients.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { startIamFaultInjector, type IamFaultInjector } from '../../peers/iam-fault-injector.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';

const SERVICES = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
const PODS = 500;
const CONCURRENCY = 20;

let h: Harness;
let faults: IamFaultInjector;
let iam: IAMClient;
before(async () => {
  h = await startHarness();
  await h.publish(bundleOf(SERVICES.map((s) => service('orders', s))));
  // Half of the roles exist before the rollout; the other half are created on demand.
  await reconcile(h.deps, { trigger: 'setup', scope: SERVICES.slice(0, 5).map((s) => `${CLUSTER}.orders.${s}`) });
  faults = await startIamFaultInjector(h.moto.endpoint);
  const clients = createAwsClients({ region: h.config.region, awsEndpoint: faults.endpoint }, h.env, IAM_MAX_ATTEMPTS.admission);
  clients.s3.destroy();
  clients.sts.destroy();
  iam = clients.iam;
});
after(async () => {
  iam?.destroy();
  await faults?.stop();
  await h?.stop();
});
beforeEach(() => faults.reset());

/** A warm Lambda: one handler (and its caches) for every admission. */
const warmHandler = () =>
  createAdmissionHandler({
    iam,
    s3: h.deps.s3,
    config: { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 60_000 },
    accountId: h.deps.accountId,
    log: () => {},
  });

interface Answer {
  status: number;
  /** An AdmissionReview (a decision), or a Kubernetes Status (no decision: the failurePolicy decides). */
  body: { kind: string; message?: string; response?: { allowed: boolean; status?: { message: string } } };
}

async function admitAll(count: number, roleOf: (i: number) => string, admit = warmHandler()): Promise<Answer[]> {
  const answers: Answer[] = new Array(count);
  let next = 0;
  // Bounded concurrency, as an API server sends a rollout's pods: CONCURRENCY workers, each takes the next pod.
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const res = (await admit(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': roleOf(i) }, uid: `pod-${i}` })))) as { statusCode: number; body: string };
      answers[i] = { status: res.statusCode, body: JSON.parse(res.body) };
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return answers;
}

describe('a rollout of 500 pods under IAM throttling', () => {
  it('admits every pod whose role is in the bundle while the first attempt of every GetRole and CreateRole is throttled, with far fewer GetRole calls than pods', { timeout: 120_000 }, async () => {
    faults.throttleFirstAttempts('GetRole', 1);
    faults.throttleFirstAttempts('CreateRole', 1);

    const answers = await admitAll(PODS, (i) => SERVICES[i % SERVICES.length]!);

    const refused = answers.filter((a) => a.status !== 200 || a.body.response?.allowed !== true);
    assert.deepEqual(refused.slice(0, 2), [], `${refused.length} of ${PODS} pods not admitted`);
    const getRoles = faults.attempts('GetRole');
    console.log(`# ${PODS} admissions, ${SERVICES.length} roles: ${getRoles} GetRole attempts, ${faults.attempts('CreateRole')} CreateRole attempts`);
    // Every call is throttled once, so each look-up costs 2 attempts: the intermediate role's,
    // and one per role (concurrent pods share it, later ones hit the cache) — not one per pod.
    assert.ok(getRoles >= 2 * SERVICES.length, `${getRoles} GetRole attempts: the throttling did not happen`);
    assert.ok(getRoles <= 2 * (SERVICES.length + 2), `${getRoles} GetRole attempts for ${PODS} pods`);
  });

  it('answers a pod 503 or admits it, never denies it, while every 3rd GetRole attempt of the account is throttled', { timeout: 120_000 }, async () => {
    faults.throttleEvery('GetRole', 3);

    const answers = await admitAll(PODS, (i) => SERVICES[i % SERVICES.length]!);

    const admitted = answers.filter((a) => a.status === 200 && a.body.response?.allowed === true).length;
    const unavailable = answers.filter((a) => a.status === 503 && a.body.message?.startsWith('PODIAM_IAM_THROTTLED: ')).length;
    console.log(`# every 3rd GetRole throttled: ${admitted} admitted, ${unavailable} answered 503, ${faults.attempts('GetRole')} GetRole attempts`);
    assert.equal(admitted + unavailable, PODS);
    assert.ok(admitted > 0);
  });

  it('answers HTTP 503 PODIAM_IAM_THROTTLED, not a denial, when IAM throttles every attempt, so the failurePolicy decides', { timeout: 60_000 }, async () => {
    // Warm: the bundle and the intermediate roles are read; svc-8 and svc-9 were never looked up.
    const admit = warmHandler();
    assert.equal((await admitAll(1, () => 'svc-0', admit))[0]!.status, 200);
    faults.reset();
    faults.throttle('GetRole', 1_000_000);

    const answers = await admitAll(40, (i) => SERVICES[8 + (i % 2)]!, admit);

    for (const a of answers) {
      assert.equal(a.status, 503);
      assert.equal(a.body.kind, 'Status', 'an AdmissionReview answer is a decision');
      assert.match(a.body.message!, /^PODIAM_IAM_THROTTLED: IAM GetRole was still throttled/);
    }
    // Concurrent pods of one role share one look-up: two roles, a few rounds of 3 attempts, not 40 × 3.
    console.log(`# 40 admissions of 2 roles under persistent throttling: ${faults.attempts('GetRole')} GetRole attempts`);
    assert.ok(faults.attempts('GetRole') < 40, `${faults.attempts('GetRole')} GetRole attempts`);
  });

  it('still refuses a pod whose role is not in the bundle with a 200 denial while IAM throttles', async () => {
    const admit = warmHandler();
    assert.equal((await admitAll(1, () => 'svc-0', admit))[0]!.status, 200);
    faults.throttle('GetRole', 1_000_000);

    const [answer] = await admitAll(1, () => 'billing', admit);

    assert.equal(answer!.status, 200);
    assert.equal(answer!.body.response?.allowed, false);
    assert.match(answer!.body.response!.status!.message, /^PODIAM_ROLE_NOT_IN_BUNDLE: /);
  });
});
