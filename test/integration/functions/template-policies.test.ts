// Least privilege, checked both ways with the reference IAM simulator (test only, AGPL):
// every IAM and S3 call each function made in a run against moto is allowed by that function's
// policy in template.yaml, and the writes it must never make are denied.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRoleCommand, IAMClient, ListRolesCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { intermediateRolePolicy } from '../../../iam-model/src/trust.ts';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import type { ReconcileDeps } from '../../../functions/lib/reconcile.ts';
import { bundleOf, exampleBundle, service, XRAY_POLICY_ARN } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { BUCKET, BUNDLE_KEY, CLUSTER, startHarness, type Harness } from './harness.ts';
import { functionPolicy, loadTemplate, type TemplateParams } from './template-policy.ts';
import { directReconcileWriter } from './reconcile-writer.ts';

interface Call {
  service: 'iam' | 's3';
  command: string;
  input: Record<string, unknown>;
}

type Recorded = { iam: IAMClient; s3: S3Client; calls: Call[] };

/** Clients whose every command is recorded with its input. */
function recordingClients(h: Harness): Recorded {
  const calls: Call[] = [];
  const common = { endpoint: h.moto.endpoint, region: h.moto.region, credentials: h.moto.credentials, maxAttempts: 2 };
  const iam = new IAMClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  for (const [service, client] of [['iam', iam], ['s3', s3]] as const) {
    (client.middlewareStack as unknown as { add(m: unknown, o: { step: 'initialize'; name: string }): void }).add(
      (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
        calls.push({ service, command: (context.commandName ?? '').replace(/Command$/, ''), input: structuredClone(args.input) });
        return next(args);
      },
      { step: 'initialize', name: 'record' },
    );
  }
  return { iam, s3, calls };
}

const BOUNDARY = XRAY_POLICY_ARN;
let h: Harness;
let params: TemplateParams;
let template: Record<string, unknown>;
let rolePaths: Map<string, string>;
const recorded: Record<'ReconcileFunction' | 'AdmissionFunction' | 'RotateFunction', Call[]> = { ReconcileFunction: [], AdmissionFunction: [], RotateFunction: [] };

interface SimRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

function tagContext(prefix: 'aws:RequestTag' | 'aws:ResourceTag', tags: Record<string, string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
  if (prefix === 'aws:RequestTag') out['aws:TagKeys'] = Object.keys(tags);
  return out;
}

/** What IAM authorises for one SDK call: action(s), resource ARN, condition context. */
function requestsFor(call: Call): SimRequest[] {
  if (call.service === 's3') {
    const resource = `arn:aws:s3:::${String(call.input.Bucket)}/${String(call.input.Key)}`;
    return [{ action: `s3:${call.command}`, resource, context: {} }];
  }
  const action = `iam:${call.command}`;
  if (call.command === 'ListRoles' || call.command === 'GetAccountAuthorizationDetails') return [{ action, resource: '*', context: {} }];
  const name = String(call.input.RoleName);
  const managedPath = `/podiam/${CLUSTER}/`;
  const path = call.command === 'CreateRole' ? String(call.input.Path ?? '/') : (rolePaths.get(name) ?? (name.startsWith(`${CLUSTER}-`) ? managedPath : '/'));
  const resource = `arn:aws:iam::${h.moto.accountId}:role${path}${name}`;
  const managed = path === managedPath;
  const resourceTags = managed && call.command !== 'CreateRole' ? tagContext('aws:ResourceTag', { 'podiam:cluster': CLUSTER }) : {};
  const requestTags = Array.isArray(call.input.Tags) ? tagContext('aws:RequestTag', Object.fromEntries((call.input.Tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value]))) : {};
  const boundary: Record<string, string> = typeof call.input.PermissionsBoundary === 'string' ? { 'iam:PermissionsBoundary': call.input.PermissionsBoundary } : {};
  const policyArn: Record<string, string> = typeof call.input.PolicyArn === 'string' ? { 'iam:PolicyARN': call.input.PolicyArn } : {};
  const out: SimRequest[] = [{ action, resource, context: { ...resourceTags, ...requestTags, ...boundary, ...policyArn } }];
  // CreateRole with Tags also needs iam:TagRole on the new role.
  if (call.command === 'CreateRole' && Array.isArray(call.input.Tags)) out.push({ action: 'iam:TagRole', resource, context: requestTags });
  return out;
}

async function simulate(policy: object, req: SimRequest): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'template', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:sts::${h.moto.accountId}:assumed-role/podiam-function/session`,
        action: req.action,
        resource: { resource: req.resource, accountId: h.moto.accountId },
        contextVariables: req.context,
      },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error for ${req.action} ${req.resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

before(async () => {
  h = await startHarness({ permissionsBoundaryArn: BOUNDARY });
  template = loadTemplate();
  params = { ClusterName: CLUSTER, IntermediateRoleArns: [h.proxyRoleArn], PermissionsBoundaryArn: BOUNDARY, AttachableManagedPolicyArns: h.config.attachableManagedPolicyArns, BundleKey: BUNDLE_KEY, BundleBucketName: BUCKET, AccountId: h.moto.accountId };
  const depsWith = (r: Recorded): ReconcileDeps => ({ ...h.deps, iam: r.iam, s3: r.s3 });

  // reconcile: from empty, drift repair, deletion of a removed file
  const rec = recordingClients(h);
  await h.publish(exampleBundle());
  await reconcile(depsWith(rec), { trigger: 'empty' });
  await h.iam.send(new PutRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'hand-made', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }) }));
  await h.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }] }) }));
  await reconcile(depsWith(rec), { trigger: 'drift', scope: ['prod.orders.reader'] });
  await h.publish(bundleOf(exampleBundle().services.filter((s) => s.service !== 'writer')));
  await reconcile(depsWith(rec), { trigger: 'delete' });
  recorded.ReconcileFunction = rec.calls;

  // admission: on-demand creation
  await h.publish(bundleOf([...exampleBundle().services, service('orders', 'auditor')]));
  const adm = recordingClients(h);
  const admit = createAdmissionHandler({ iam: adm.iam, s3: adm.s3, config: { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 0 }, accountId: h.deps.accountId, log: () => {} });
  const answer = (await admit(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'auditor' } })))) as { body: string };
  assert.equal(JSON.parse(answer.body).response.allowed, true);
  recorded.AdmissionFunction = adm.calls;

  // rotate: revoke, begin and finish a rotation
  const v2 = (await h.iam.send(new CreateRoleCommand({ RoleName: 'podiam-prod-node-proxy-v2', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }))).Role!.Arn!;
  await h.iam.send(new PutRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy-v2', PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: h.moto.accountId }, CLUSTER)) }));
  const rot = recordingClients(h);
  // Rotate's trust changes run in the reconcile function (its own role), not under rotate's policy.
  const rotate = createRotateHandler({ ...depsWith(rot), reconcileWriter: directReconcileWriter(h.deps) });
  const ev = (detail: Record<string, unknown>) => ({ source: 'podiam', 'detail-type': 'podiam rotate', detail: { cluster: CLUSTER, ...detail } });
  for (const e of [ev({ action: 'revoke-sessions' }), ev({ action: 'begin-intermediate-rotation', newRoleArn: v2 }), ev({ action: 'finish-intermediate-rotation', oldRoleArn: h.proxyRoleArn })]) {
    const r = await rotate(e);
    assert.ok(!('rejected' in r), JSON.stringify(r));
  }
  recorded.RotateFunction = rot.calls;

  const listed = await h.iam.send(new ListRolesCommand({}));
  rolePaths = new Map((listed.Roles ?? []).map((r) => [r.RoleName!, r.Path!]));
  for (const r of [rec, adm, rot]) {
    r.iam.destroy();
    r.s3.destroy();
  }
});
after(() => h?.stop());

describe('template.yaml policies against the calls the functions make', () => {
  for (const fn of ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction'] as const) {
    it(`allows every call ${fn} made against moto`, async () => {
      const policy = functionPolicy(template, fn, params);
      const calls = recorded[fn].filter((c) => c.command !== 'GetCallerIdentity');
      assert.ok(calls.length > 5, `${fn} made calls (${calls.length})`);
      const denied: string[] = [];
      for (const call of calls) {
        for (const req of requestsFor(call)) {
          if ((await simulate(policy, req)) !== 'Allowed') denied.push(`${req.action} ${req.resource} ${JSON.stringify(req.context)}`);
        }
      }
      assert.deepEqual([...new Set(denied)], []);
    });
  }

  it('denies reconcile the writes it must never make', async () => {
    const policy = functionPolicy(template, 'ReconcileFunction', params);
    const acct = h.moto.accountId;
    const managed = `arn:aws:iam::${acct}:role/podiam/prod/prod.orders.reader`;
    const tagged = { 'aws:ResourceTag/podiam:cluster': 'prod' };
    const cases: SimRequest[] = [
      { action: 'iam:PutRolePolicy', resource: `arn:aws:iam::${acct}:role/admin`, context: {} },
      { action: 'iam:DeleteRole', resource: `arn:aws:iam::${acct}:role/podiam/prod/prod-orders-legacy`, context: {} },
      { action: 'iam:UpdateAssumeRolePolicy', resource: `arn:aws:iam::${acct}:role/podiam/staging/staging.orders.reader`, context: { 'aws:ResourceTag/podiam:cluster': 'staging' } },
      { action: 'iam:CreateRole', resource: managed, context: { 'iam:PermissionsBoundary': `arn:aws:iam::${acct}:policy/other` } },
      { action: 'iam:CreateRole', resource: managed, context: {} },
      { action: 'iam:CreateRole', resource: `arn:aws:iam::${acct}:role/prod-escape`, context: { 'iam:PermissionsBoundary': BOUNDARY } },
      { action: 'iam:DeleteRolePermissionsBoundary', resource: managed, context: tagged },
      { action: 'iam:AttachRolePolicy', resource: h.proxyRoleArn, context: {} },
      { action: 'iam:CreateUser', resource: `arn:aws:iam::${acct}:user/x`, context: {} },
      { action: 's3:PutObject', resource: `arn:aws:s3:::${BUCKET}/${BUNDLE_KEY}`, context: {} },
    ];
    for (const c of cases) assert.notEqual(await simulate(policy, c), 'Allowed', `${c.action} ${c.resource}`);
    assert.equal(await simulate(policy, { action: 'iam:PutRolePolicy', resource: managed, context: tagged }), 'Allowed', 'the same write on a managed role is allowed');
  });

  it('denies admission everything but reading and creating roles from the bundle', async () => {
    const policy = functionPolicy(template, 'AdmissionFunction', params);
    const acct = h.moto.accountId;
    const managed = `arn:aws:iam::${acct}:role/podiam/prod/prod.orders.reader`;
    const tagged = { 'aws:ResourceTag/podiam:cluster': 'prod' };
    for (const action of ['iam:DeleteRole', 'iam:UpdateAssumeRolePolicy', 'iam:DeleteRolePolicy', 'iam:DetachRolePolicy', 'iam:UpdateRole']) {
      assert.notEqual(await simulate(policy, { action, resource: managed, context: tagged }), 'Allowed', action);
    }
    assert.notEqual(await simulate(policy, { action: 'iam:PutRolePolicy', resource: h.proxyRoleArn, context: {} }), 'Allowed');
    assert.notEqual(await simulate(policy, { action: 's3:PutObject', resource: `arn:aws:s3:::${BUCKET}/state/prod/intermediate-rotation.json`, context: {} }), 'Allowed');
  });
});
