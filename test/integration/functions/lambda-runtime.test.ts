// The functions as they ship: each function's `sam build` artifact, run by the Lambda Runtime Interface
// Emulator with the official Node runtime interface client on Node 24 (template Runtime nodejs24.x),
// loaded through template.yaml's Handler, configured by the template's Environment with the stack's
// parameters, and invoked over the emulator's HTTP API with the events AWS sends. moto stands in for
// IAM, STS and S3 (PODIAM_AWS_ENDPOINT). A wrong handler string, an ESM/CommonJS mismatch or a throw at
// module scope fails these tests (each was checked once by breaking it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { startLambdaRuntime, type LambdaRuntime } from '../../peers/lambda-runtime.ts';
import { deployedFunction, loadBuiltTemplate, type DeployedFunction } from '../../support/built-template.ts';
import { samBuild, type FunctionId } from '../../support/sam-build.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { BUCKET, BUNDLE_KEY, CLUSTER, startHarness, type Harness } from './harness.ts';

const event = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

let h: Harness;
const runtimes = new Map<FunctionId, LambdaRuntime>();
const deployed = new Map<FunctionId, DeployedFunction>();

function runtime(fn: FunctionId): LambdaRuntime {
  const r = runtimes.get(fn);
  assert.ok(r, `${fn} runtime started`);
  return r;
}

/** Invokes and returns the handler's result; a function error or failed init fails the test with the runtime's output. */
async function invokeOk(fn: FunctionId, payload: unknown): Promise<Record<string, unknown>> {
  const r = runtime(fn);
  const res = await r.invoke(payload);
  const body = res.json() as Record<string, unknown> | null;
  assert.equal(res.status, 200, `${fn}: emulator status ${res.status}: ${res.body}\n${r.output()}`);
  assert.ok(body && typeof body === 'object' && !('errorType' in body), `${fn} failed: ${res.body}\n${r.output()}`);
  return body;
}

before(async () => {
  const build = samBuild();
  const template = loadBuiltTemplate(build.template);
  h = await startHarness();
  await h.publish(exampleBundle());
  const account = h.moto.accountId;
  const stack = {
    ClusterName: CLUSTER,
    IntermediateRoleArns: [h.proxyRoleArn],
    AllowNoPermissionsBoundary: 'I-understand-roles-have-no-boundary',
    AttachableManagedPolicyArns: h.config.attachableManagedPolicyArns,
    BundleBucket: BUCKET,
    BundleKey: BUNDLE_KEY,
    WebhookSecretSha256: WEBHOOK_SECRET_SHA256,
    'ReconcileFunction.Arn': `arn:aws:lambda:us-east-1:${account}:function:podiam-ReconcileFunction`,
    'ReconcileFunctionRole.Arn': `arn:aws:iam::${account}:role/podiam-ReconcileFunctionRole`,
  };
  // What Lambda adds (region, credentials of the execution role), plus the test's moto endpoint. The
  // emulator's invokedFunctionArn names account 012345678912, not moto's, so the account is configured.
  const lambdaEnv = {
    AWS_REGION: h.moto.region,
    AWS_DEFAULT_REGION: h.moto.region,
    AWS_ACCESS_KEY_ID: h.moto.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: h.moto.credentials.secretAccessKey,
    PODIAM_AWS_ENDPOINT: h.moto.endpoint,
    PODIAM_ACCOUNT_ID: account,
  };
  const fns: FunctionId[] = ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction'];
  for (const fn of fns) deployed.set(fn, deployedFunction(template, fn, stack));
  await Promise.all(
    fns.map(async (fn) => {
      const d = deployed.get(fn)!;
      runtimes.set(
        fn,
        await startLambdaRuntime({ taskRoot: build.taskRoot(fn), handler: d.handler, runtime: d.runtime, env: { ...d.env, ...lambdaEnv }, functionName: fn, memoryMb: d.memoryMb, timeoutSeconds: Math.min(d.timeoutSeconds, 120) }),
      );
    }),
  );
});
after(async () => {
  await Promise.all([...runtimes.values()].map((r) => r.stop()));
  await h?.stop();
});

describe('the shipped functions in the Lambda runtime (aws-lambda-rie + aws-lambda-ric, Node 24)', () => {
  it('declares the runtime the emulator runs: nodejs24.x for every function', () => {
    for (const [fn, d] of deployed) assert.equal(d.runtime, 'nodejs24.x', fn);
  });

  it('reconcile creates the bundle roles from the S3 "Object Created" EventBridge event', async () => {
    const result = await invokeOk('ReconcileFunction', event('reconcile-bundle-published.json'));

    assert.deepEqual(result.planned, { 'create-role': 3, 'put-intermediate-policy': 1 });
    const roles = await h.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${CLUSTER}/` }));
    assert.deepEqual(roles.Roles!.map((r) => r.RoleName).sort(), ['prod.dns.updater', 'prod.orders.reader', 'prod.orders.writer'].sort());
  });

  it('reconcile removes a hand-made inline policy named by the CloudTrail "AWS API Call via CloudTrail" event', async () => {
    await h.iam.send(
      new PutRolePolicyCommand({
        RoleName: 'prod.orders.reader',
        PolicyName: 'hand-made',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );

    const result = await invokeOk('ReconcileFunction', event('reconcile-cloudtrail-drift.json'));

    assert.ok(!('ignored' in result), JSON.stringify(result));
    const left = await h.iam.send(new ListRolePoliciesCommand({ RoleName: 'prod.orders.reader' }));
    assert.ok(!left.PolicyNames!.includes('hand-made'), `left: ${left.PolicyNames!.join(', ')}`);
  });

  it('reconcile puts back a changed trust policy on the scheduled event', async () => {
    const stranger = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::210987654321:root' }, Action: 'sts:AssumeRole' }] };
    await h.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'prod.dns.updater', PolicyDocument: JSON.stringify(stranger) }));

    await invokeOk('ReconcileFunction', event('reconcile-scheduled.json'));

    const role = await h.iam.send(new GetRoleCommand({ RoleName: 'prod.dns.updater' }));
    const trust = decodeURIComponent(role.Role!.AssumeRolePolicyDocument!);
    assert.ok(!trust.includes('210987654321'), trust);
    assert.ok(trust.includes(h.proxyRoleArn), trust);
  });

  it('admission answers a Function URL (payload 2.0) event carrying an AdmissionReview as JSON', async () => {
    const res = await invokeOk('AdmissionFunction', urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'reader' }, uid: 'rie-json' })));

    assert.equal(res.statusCode, 200);
    assert.match(String((res.headers as Record<string, string>)['content-type']), /^application\/json/);
    assert.deepEqual((JSON.parse(String(res.body)) as { response: unknown }).response, { uid: 'rie-json', allowed: true });
  });

  it('admission answers the same AdmissionReview sent as a base64 body, and refuses a role the bundle does not define', async () => {
    const e = urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'no-such-service' }, uid: 'rie-b64' }));
    e.body = Buffer.from(e.body!, 'utf8').toString('base64');
    e.isBase64Encoded = true;

    const res = await invokeOk('AdmissionFunction', e);

    assert.equal(res.statusCode, 200);
    const review = JSON.parse(String(res.body)) as { response: { uid: string; allowed: boolean; status?: { message?: string } } };
    assert.equal(review.response.uid, 'rie-b64');
    assert.equal(review.response.allowed, false);
  });

  it('rotate revokes the sessions named by the rotate request', async () => {
    const result = await invokeOk('RotateFunction', event('rotate-revoke-sessions.json'));

    assert.deepEqual(result.revoked, ['prod.orders.reader']);
    const got = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'AWSRevokeOlderSessions' }));
    assert.match(decodeURIComponent(got.PolicyDocument!), /aws:TokenIssueTime/);
  });

  it('reports the Init phase of each cold start (INIT REPORT durationMs)', (t) => {
    for (const fn of runtimes.keys()) {
      const ms = runtime(fn).initDurationMs();
      assert.ok(ms !== undefined && ms > 0, `${fn}: ${runtime(fn).output()}`);
      t.diagnostic(`${fn}: Init Duration ${ms.toFixed(0)} ms (runtime CPU so far ${runtime(fn).runtimeCpuMs() ?? '?'} ms)`);
    }
  });
});
