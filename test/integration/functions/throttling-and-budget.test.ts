// IAM throttling and slow IAM, made with SDK middleware on a real client talking to moto:
// the throttled calls are answered by the middleware (moto never throttles), everything else by moto.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import { countCalls } from '../../../functions/lib/call-counter.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, exampleBundle } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
});
after(() => h?.stop());

type Middleware = (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>;

/** Adds an initialize-step middleware (the SDK's own types want one overload per step). */
function addMiddleware(iam: IAMClient, middleware: Middleware, name: string): void {
  (iam.middlewareStack as unknown as { add(m: Middleware, o: { step: 'initialize'; name: string }): void }).add(middleware, { step: 'initialize', name });
}

function client(): IAMClient {
  return new IAMClient({ endpoint: h.moto.endpoint, region: h.moto.region, credentials: h.moto.credentials, maxAttempts: 1 });
}

/** Answers the first `times` calls of `command` with IAM's throttling error. */
function throttle(iam: IAMClient, command: string, times: number): { thrown: () => number } {
  let thrown = 0;
  addMiddleware(
    iam,
    (next, context) => async (args) => {
      if (context.commandName === `${command}Command` && thrown < times) {
        thrown++;
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    'testThrottle',
  );
  return { thrown: () => thrown };
}

describe('IAM throttling and the admission budget', () => {
  it('converges through throttled CreateRole calls with backoff, and the next run writes nothing', async () => {
    const iam = client();
    after(() => iam.destroy());
    const calls = countCalls(iam);
    const throttled = throttle(iam, 'CreateRole', 5);
    const summary = await reconcile({ ...h.deps, iam, retry: { baseMs: 5, capMs: 40 } }, { trigger: 'test' });
    assert.equal(throttled.thrown(), 5);
    assert.equal(summary.planned['create-role'], 3);
    assert.equal(calls.byName().CreateRole, 3 + 5, 'each throttled call was retried');
    for (const name of ['prod-orders-reader', 'prod-orders-writer', 'prod-dns-updater']) await h.iam.send(new GetRoleCommand({ RoleName: name }));
    calls.reset();
    await reconcile({ ...h.deps, iam }, { trigger: 'test' });
    assert.equal(calls.writes(), 0);
  });

  it('fails the run with PODIAM_RECONCILE_FAILED when throttling outlasts the retries, so EventBridge retries it', async () => {
    const iam = client();
    after(() => iam.destroy());
    throttle(iam, 'CreateRole', 1000);
    await h.publish(bundleOf(exampleBundle().services.map((s) => ({ ...s, service: `${s.service}-x`, file: `policies/${s.namespace}/${s.service}-x.json` }))));
    await assert.rejects(reconcile({ ...h.deps, iam, retry: { baseMs: 1, capMs: 2, maxAttempts: 3 } }, { trigger: 'test' }), (err: unknown) => {
      const e = err as { code?: string; failures?: { code: string }[] };
      assert.equal(e.code, 'PODIAM_RECONCILE_FAILED');
      assert.ok(e.failures!.every((f) => f.code === 'PODIAM_IAM_THROTTLED'));
      return true;
    });
  });

  it('answers a retryable denial within its budget when IAM is too slow to create the role', async () => {
    const iam = client();
    after(() => iam.destroy());
    addMiddleware(
      iam,
      (next, context) => async (args) => {
        if (context.commandName === 'CreateRoleCommand') await new Promise((r) => setTimeout(r, 3000));
        return next(args);
      },
      'testSlowCreate',
    );
    const admit = createAdmissionHandler({
      iam,
      s3: h.deps.s3,
      config: { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 800, bundleCacheMs: 30000 },
      accountId: h.deps.accountId,
      log: () => {},
    });
    const res = (await admit(urlEvent(podReview({ namespace: 'dns', annotations: { 'iam.amazonaws.com/role': 'updater-x' } })))) as { statusCode: number; body: string };
    assert.equal(res.statusCode, 200);
    const response = JSON.parse(res.body).response;
    assert.equal(response.allowed, false);
    assert.equal(response.status.code, 503);
    assert.match(response.status.message, /^PODIAM_ROLE_CREATE_PENDING: the role could not be created within 800 ms/);
  });
});
