// Issue 10, item 2: only PublisherRoleArn may write the bundle. The bundle bucket's policy is
// resolved from template.yaml and evaluated with the reference IAM simulator (test only) for
// sessions whose own identity policy allows everything, as an account administrator's would.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { loadTemplate, resourcePolicy, type TemplateParams } from './template-policy.ts';

const ACCOUNT = '123456789012';
const BUCKET = 'podiam-bundles';
const PUBLISHER = `arn:aws:iam::${ACCOUNT}:role/ci/podiam-publisher`;
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/Administrator`;
const RECONCILE = `arn:aws:iam::${ACCOUNT}:role/podiam-ReconcileFunctionRole`;
const BUNDLE = `arn:aws:s3:::${BUCKET}/podiam/bundle.json`;

const params: TemplateParams = {
  ClusterName: 'prod',
  IntermediateRoleArns: [`arn:aws:iam::${ACCOUNT}:role/podiam-prod-node-proxy`],
  PermissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/podiam/podiam-workload-boundary`,
  PublisherRoleArn: PUBLISHER,
  BundleKey: 'podiam/bundle.json',
  BundleBucketName: BUCKET,
  AccountId: ACCOUNT,
};

let template: Record<string, unknown>;
let policy: object;
before(() => {
  template = loadTemplate();
  policy = resourcePolicy(template, 'BundleBucketTlsOnly', params);
});

/** What S3 decides for a session of `roleArn` whose identity policy allows everything. */
async function decide(roleArn: string, action: string, resource: string): Promise<string> {
  const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'everything', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/session`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:PrincipalArn': roleArn, 'aws:SecureTransport': 'true' },
      },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error for ${action} ${resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

describe('template.yaml: only the publisher role writes the bundle', () => {
  it('denies writing, deleting and rolling back the bundle to every other principal, an administrator included', async () => {
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion']) {
      for (const who of [ADMIN, RECONCILE, `arn:aws:iam::${ACCOUNT}:role/ci/podiam-publisher-2`]) {
        assert.equal(await decide(who, action, BUNDLE), 'ExplicitlyDenied', `${action} by ${who}`);
      }
    }
  });

  it('lets the publisher role write the bundle, and leaves reading it to identity policies', async () => {
    assert.equal(await decide(PUBLISHER, 's3:PutObject', BUNDLE), 'Allowed');
    assert.equal(await decide(RECONCILE, 's3:GetObject', BUNDLE), 'Allowed');
  });

  it('requires PublisherRoleArn: no default, and nothing but a role ARN', () => {
    const p = (template.Parameters as Record<string, { Default?: unknown; AllowedPattern?: string }>).PublisherRoleArn;
    assert.ok(p, 'PublisherRoleArn is a parameter');
    assert.equal(p.Default, undefined);
    assert.ok(new RegExp(p.AllowedPattern!).test(PUBLISHER));
    assert.ok(!new RegExp(p.AllowedPattern!).test('*'));
  });
});
