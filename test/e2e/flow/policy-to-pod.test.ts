// End to end, on one machine, with the demo's harness (demo/world.ts): the example policies are
// published through the CLI's bundle code, the reconcile handler creates the roles in moto (IAM
// enforcement on), the node proxy runs in its own network namespace with the real DNAT rule,
// and pods (network namespaces; loopback addresses without root) use the unmodified AWS SDK.
// The tests share one world and run in order; each leaves the policies as it found them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { managedRoleName } from '../../../core/src/naming.ts';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { parseIamDocument } from '../../../iam-model/src/policy-compare.ts';
import { INTERMEDIATE_POLICY_NAME, REVOKE_POLICY_NAME, SERVICE_POLICY_NAME } from '../../../iam-model/src/trust.ts';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { DEMO_NAMES, DEMO_PODS, runMatches, type Check, type PodRun } from '../../../demo/checks.ts';
import { startWorld, type World, type WorldPod } from '../../../demo/world.ts';

const n = DEMO_NAMES;
const ACCOUNT = '123456789012';
const readOther: Check = { action: 's3:GetObject', bucket: n.otherBucket, key: n.otherKey, expect: 'refused' };
const readOrders: Check = { action: 's3:GetObject', bucket: n.ordersBucket, key: n.orderKey, expect: 'allowed' };

const roleName = (namespace: string, service: string): string => managedRoleName({ cluster: n.cluster, namespace, service });
const sessionArn = (namespace: string, service: string): RegExp => new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/${roleName(namespace, service)}/${namespace}\\.`);

let world: World;
const pods: Record<string, WorldPod> = {};
const scratch: string[] = [];

before(async () => {
  world = await startWorld();
});
// Registered at top level at once, so it runs even when before() fails half-way.
after(async () => {
  await world?.stop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function explain(run: PodRun): string {
  return JSON.stringify({ ...run, credentials: undefined });
}

function cloudTrailEvent(eventName: string, role: string, requestParameters: Record<string, string>): unknown {
  return {
    version: '0',
    id: `e2e-${randomBytes(4).toString('hex')}`,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.iam',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {
      eventVersion: '1.09',
      userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/podiam-test-admin` },
      eventTime: new Date().toISOString(),
      eventSource: 'iam.amazonaws.com',
      eventName,
      awsRegion: 'us-east-1',
      requestParameters: { roleName: role, ...requestParameters },
      responseElements: null,
      readOnly: false,
      eventType: 'AwsApiCall',
    },
  };
}

async function rolePolicy(role: string, policyName: string): Promise<Record<string, unknown>> {
  const got = await world.admin.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policyName }));
  return parseIamDocument(got.PolicyDocument) as Record<string, unknown>;
}

async function trustPrincipals(role: string): Promise<unknown> {
  const got = await world.admin.iam.send(new GetRoleCommand({ RoleName: role }));
  const doc = parseIamDocument(got.Role!.AssumeRolePolicyDocument) as { Statement: Array<{ Principal?: { AWS?: unknown } }> };
  return doc.Statement.map((s) => s.Principal?.AWS);
}

/** A copy of policies/ with orders/reader.json changed by `edit`, for publishing. */
function editedPolicies(edit: (file: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-e2e-policies-'));
  scratch.push(dir);
  cpSync(world.policiesDir, dir, { recursive: true });
  const file = path.join(dir, 'orders', 'reader.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return dir;
}

describe('from a committed policy file to credentials in a pod', () => {
  it('publishes policies/ and one reconcile creates every role with both sides of the trust link', async () => {
    const bundle = await world.publish();
    const result = await world.reconcile(world.bundlePublishedEvent());

    assert.ok(!('ignored' in result), JSON.stringify(result));
    assert.equal(result.planned['create-role'], bundle.services.length);
    assert.equal(result.collisions.length, 0);
    const listed = await world.admin.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${n.cluster}/` }));
    const names = (listed.Roles ?? []).map((r) => r.RoleName).sort();
    assert.deepEqual(names, bundle.services.map((s) => roleName(s.namespace, s.service)).sort());
    assert.deepEqual(await trustPrincipals(roleName('orders', 'reader')), [[world.account.nodeRoleArn]]);
    const other = await rolePolicy(world.account.nodeRoleName, INTERMEDIATE_POLICY_NAME);
    assert.match(JSON.stringify(other), new RegExp(`arn:aws:iam::${ACCOUNT}:role/podiam/${n.cluster}/\\*`));
  });

  it('gives each annotated pod its own role through 169.254.169.254, and moto allows and refuses as the policies say', async () => {
    await world.startProxy();
    for (const spec of DEMO_PODS) pods[spec.role] = await world.createPod(spec);
    await world.waitForIndexed(DEMO_PODS.length);

    const runs = await Promise.all(DEMO_PODS.map((spec) => world.runInPod(pods[spec.role]!, spec.checks)));

    DEMO_PODS.forEach((spec, i) => {
      const run = runs[i]!;
      assert.ok(run.ok, explain(run));
      assert.match(run.arn ?? '', sessionArn(spec.namespace, spec.role));
      for (const c of run.checks) assert.equal(c.outcome, c.expect, `${spec.name}: ${c.action} ${c.resource} → ${c.outcome} (${c.error ?? ''})`);
    });
    assert.notEqual(runs[0]!.accessKeyIdTail, runs[1]!.accessKeyIdTail);
  });

  it('refuses, through the real API server and webhook, a pod asking for a role with no policy file, and names the file', async () => {
    const secret = randomBytes(24).toString('hex');
    const cert = await world.kube.issueServingCert({ ips: ['127.0.0.1'] });
    const env = {
      PODIAM_CLUSTER_NAME: n.cluster,
      PODIAM_INTERMEDIATE_ROLE_ARNS: world.account.nodeRoleArn,
      PODIAM_BUNDLE_BUCKET: n.bundleBucket,
      PODIAM_BUNDLE_KEY: n.bundleKey,
      ...(world.reconcileDeps.config.permissionsBoundaryArn ? { PODIAM_PERMISSIONS_BOUNDARY_ARN: world.reconcileDeps.config.permissionsBoundaryArn } : { PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: 'I-understand-roles-have-no-boundary' }),
      PODIAM_AWS_ENDPOINT: world.moto.endpoint,
      PODIAM_ACCOUNT_ID: ACCOUNT,
      AWS_REGION: world.moto.region,
      AWS_ACCESS_KEY_ID: world.moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: world.moto.credentials.secretAccessKey,
      PODIAM_WEBHOOK_SECRET: secret,
    };
    const server: LocalAdmissionServer = await startLocalAdmissionServer({ key: cert.keyPem, cert: cert.certPem, env, log: () => {} });
    after(() => server.stop());
    const admission = world.kube.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
    const webhookName = `podiam-e2e-${process.pid}`;
    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name: webhookName },
        webhooks: [
          {
            name: 'pod-role.podiam.io',
            admissionReviewVersions: ['v1'],
            sideEffects: 'NoneOnDryRun',
            failurePolicy: 'Fail',
            timeoutSeconds: 10,
            clientConfig: { url: server.url, caBundle: Buffer.from(cert.caPem).toString('base64') },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' }],
            matchConditions: [{ name: 'asks-for-a-role', expression: "has(object.metadata.annotations) && 'iam.amazonaws.com/role' in object.metadata.annotations" }],
          },
        ],
      },
    });
    after(() => admission.deleteValidatingWebhookConfiguration({ name: webhookName }).then(() => undefined, () => undefined));
    const podBody = (name: string, role: string) => ({
      metadata: { name, annotations: { 'iam.amazonaws.com/role': role } },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    });

    // The API server picks the new configuration up within a moment: try (bounded) until it answers.
    let refusal = '';
    for (let i = 0; i < 40 && !refusal; i++) {
      const name = `no-policy-${i}`;
      try {
        await world.core.createNamespacedPod({ namespace: 'orders', body: podBody(name, 'invoicer') });
        await world.core.deleteNamespacedPod({ namespace: 'orders', name });
        await new Promise((r) => setTimeout(r, 250));
      } catch (err: unknown) {
        refusal = String((err as { body?: unknown }).body ?? (err as Error).message);
      }
    }
    const admitted = await world.core.createNamespacedPod({ namespace: 'orders', body: podBody('has-policy', 'reader') });

    assert.match(refusal, /denied the request/);
    assert.match(refusal, /policies\/orders\/invoicer\.json/);
    assert.equal(admitted.metadata?.name, 'has-policy');
    await world.core.deleteNamespacedPod({ namespace: 'orders', name: 'has-policy' });
  });

  it('carries an edited and published policy to the role in one reconcile, and the pod feels it', async () => {
    const edited = editedPolicies((file) => {
      const policy = file.policy as { Statement: unknown[] };
      policy.Statement.push({ Sid: 'ReadOtherBucket', Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${n.otherBucket}/*` });
      const expect = file.expect as { deny: Array<{ resource: string }> };
      expect.deny = expect.deny.filter((d) => !d.resource.includes(n.otherBucket));
    });

    await world.publish(edited);
    const result = await world.reconcile(world.bundlePublishedEvent());
    const run = await world.runInPod(pods.reader!, [{ ...readOther, expect: 'allowed' }]);

    assert.ok(!('ignored' in result));
    assert.deepEqual(result.planned, { 'put-inline-policy': 1 });
    assert.match(JSON.stringify(await rolePolicy(roleName('orders', 'reader'), SERVICE_POLICY_NAME)), /ReadOtherBucket/);
    assert.ok(runMatches(run), explain(run));

    // Publishing the committed files again takes it back, again in one run.
    await world.publish();
    const back = await world.reconcile(world.bundlePublishedEvent());
    const after2 = await world.runInPod(pods.reader!, [readOther]);
    assert.ok(!('ignored' in back));
    assert.deepEqual(back.planned, { 'put-inline-policy': 1 });
    assert.ok(runMatches(after2), explain(after2));
  });

  it('repairs a hand-made drift of trust and policy from the CloudTrail events, and the pod loses what the drift gave', async () => {
    const role = roleName('orders', 'reader');
    const wideTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
    const widePolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] });
    await world.admin.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: wideTrust }));
    await world.admin.iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: SERVICE_POLICY_NAME, PolicyDocument: widePolicy }));
    const drifted = await world.runInPod(pods.reader!, [{ ...readOther, expect: 'allowed' }]);
    assert.ok(runMatches(drifted), `the drift should be in effect before the repair: ${explain(drifted)}`);

    const trustFix = await world.reconcile(cloudTrailEvent('UpdateAssumeRolePolicy', role, { policyDocument: wideTrust }));
    const policyFix = await world.reconcile(cloudTrailEvent('PutRolePolicy', role, { policyName: SERVICE_POLICY_NAME, policyDocument: widePolicy }));
    const repaired = await world.runInPod(pods.reader!, [readOrders, readOther]);

    assert.ok(!('ignored' in trustFix) && !('ignored' in policyFix));
    assert.deepEqual(trustFix.scope, [role]);
    assert.deepEqual(trustFix.planned, { 'update-trust': 1, 'put-inline-policy': 1 });
    // The second event finds nothing left to change and writes nothing.
    assert.deepEqual(policyFix.planned, {});
    assert.equal(policyFix.applied, 0);
    assert.deepEqual(await trustPrincipals(role), [[world.account.nodeRoleArn]]);
    assert.ok(runMatches(repaired), explain(repaired));
  });

  it('keeps serving across a proxy restart: prefetch refills the cache before the pods ask', async () => {
    await world.stopProxy();
    await world.startProxy();
    const deadline = Date.now() + 20_000;
    let calls = 0;
    while (Date.now() < deadline && calls < DEMO_PODS.length) {
      calls = (await world.metric('podiam_proxy_sts_assume_role_calls_total')) ?? 0;
      if (calls < DEMO_PODS.length) await new Promise((r) => setTimeout(r, 100));
    }
    const missesBefore = (await world.metric('podiam_proxy_credential_cache_misses_total')) ?? 0;

    const runs = await Promise.all(DEMO_PODS.map((spec) => world.runInPod(pods[spec.role]!, spec.checks)));

    assert.equal(calls, DEMO_PODS.length, 'one prefetching AssumeRole per pod before any pod asked');
    runs.forEach((run, i) => assert.ok(runMatches(run, sessionArn('orders', DEMO_PODS[i]!.role)), explain(run)));
    assert.equal(await world.metric('podiam_proxy_sts_assume_role_calls_total'), DEMO_PODS.length, 'no AssumeRole while pods asked');
    assert.equal((await world.metric('podiam_proxy_credential_cache_misses_total')) ?? 0, missesBefore);
    assert.ok(((await world.metric('podiam_proxy_credential_cache_hits_total')) ?? 0) >= DEMO_PODS.length);
  });

  it('revokes older sessions: the old credentials fail, the namespace annotation makes the running proxy serve fresh ones, and the simulator confirms the TokenIssueTime cut', async () => {
    const role = roleName('orders', 'reader');
    const before = await world.runInPod(pods.reader!, [readOrders], { exportCredentials: true });
    assert.ok(before.ok && before.credentials, explain(before));
    const old = new S3Client({ endpoint: world.moto.endpoint, region: world.moto.region, credentials: before.credentials, forcePathStyle: true, maxAttempts: 1 });
    after(() => old.destroy());
    await old.send(new GetObjectCommand({ Bucket: n.ordersBucket, Key: n.orderKey }));
    await new Promise((r) => setTimeout(r, 1100));

    const rotate = createRotateHandler(world.reconcileDeps);
    const answer = await rotate({ version: '0', id: 'e2e-revoke', source: 'podiam', 'detail-type': 'podiam rotate', account: ACCOUNT, time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: { cluster: n.cluster, action: 'revoke-sessions', namespace: 'orders', service: 'reader' } });
    const revoke = await rolePolicy(role, REVOKE_POLICY_NAME);
    const cut = (revoke as { Statement: Array<{ Condition: { DateLessThan: Record<string, string> } }> }).Statement[0]!.Condition.DateLessThan['aws:TokenIssueTime']!;

    assert.deepEqual((answer as { revoked?: string[] }).revoked, [role]);
    await assert.rejects(old.send(new GetObjectCommand({ Bucket: n.ordersBucket, Key: n.orderKey })), (err: unknown) => {
      assert.equal((err as { name?: string }).name, 'AccessDenied');
      return true;
    });

    // The proxy learns of the revocation from the namespace: podiam.io/sessions-revoked-at makes
    // it drop what it cached before that time and fetch anew — no restart.
    const droppedBefore = (await world.metric('podiam_proxy_revoked_credentials_dropped_total')) ?? 0;
    const ns = await world.core.readNamespace({ name: 'orders' });
    await world.core.patchNamespace({
      name: 'orders',
      body: [{ op: 'add', path: '/metadata/annotations', value: { ...(ns.metadata?.annotations ?? {}), 'podiam.io/sessions-revoked-at': new Date().toISOString() } }],
    });
    const deadline = Date.now() + 10_000;
    while (((await world.metric('podiam_proxy_revoked_credentials_dropped_total')) ?? 0) <= droppedBefore && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(((await world.metric('podiam_proxy_revoked_credentials_dropped_total')) ?? 0) > droppedBefore, 'the proxy dropped the revoked credentials');
    const fresh = await world.runInPod(pods.reader!, [readOrders], { exportCredentials: true });
    assert.ok(fresh.ok, explain(fresh));
    assert.match(fresh.arn ?? '', sessionArn('orders', 'reader'));
    assert.notEqual(fresh.credentials!.accessKeyId, before.credentials.accessKeyId);
    const oldIssued = new Date(Date.parse(before.expiration!) - 3600_000);
    const freshIssued = new Date(Date.parse(fresh.expiration!) - 3600_000);
    assert.ok(oldIssued < new Date(cut) && new Date(cut) < freshIssued, `${oldIssued.toISOString()} < ${cut} < ${freshIssued.toISOString()}`);
    // moto (patched, test/peers/moto-patch) evaluates DateLessThan aws:TokenIssueTime: the revocation spares the fresh session.
    assert.equal(fresh.checks[0]?.outcome, 'allowed', `moto on the fresh session's read: ${fresh.checks[0]?.outcome} (${fresh.checks[0]?.error ?? ''})`);

    // What AWS decides, from the policies as IAM holds them now (the simulator is AGPL: test only).
    const identityPolicies = await Promise.all([SERVICE_POLICY_NAME, REVOKE_POLICY_NAME].map(async (name) => ({ name, policy: await rolePolicy(role, name) })));
    const decide = async (issued: Date): Promise<string> => {
      const result = await runSimulation(
        {
          identityPolicies,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          request: {
            principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/orders.${DEMO_PODS[0]!.name}`,
            action: 's3:GetObject',
            resource: { resource: `arn:aws:s3:::${n.ordersBucket}/${n.orderKey}`, accountId: ACCOUNT },
            contextVariables: { 'aws:TokenIssueTime': issued.toISOString() },
          },
        } as Parameters<typeof runSimulation>[0],
        {},
      );
      if (result.resultType === 'error') throw new Error(`simulation error: ${JSON.stringify(result.errors)}`);
      return result.overallResult;
    };
    assert.equal(await decide(oldIssued), 'ExplicitlyDenied');
    assert.equal(await decide(freshIssued), 'Allowed');

    await world.admin.iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: REVOKE_POLICY_NAME }));
  });
});
