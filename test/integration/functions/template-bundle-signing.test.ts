// Issue 10 item 2, bundle signing, as template.yaml grants it: with BundleSigningKeyArn the reconcile
// and admission functions may kms:Verify with that key and nothing else in KMS (no Sign: a function
// that could sign could approve its own bundle), rotate gets no KMS access, and without the
// parameter no function gets any. Policies are resolved from the template and evaluated with the
// reference IAM simulator (test only), together with the key policy docs/operations.md gives
// (read from that page, so the two cannot drift): KMS needs the key policy to allow as well. The
// same key policy lets the publisher sign and keeps an administrator's kms:* from signing.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { functionPolicy, loadTemplate, type TemplateParams } from './template-policy.ts';

const ACCOUNT = '123456789012';
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/99999999-12ab-34cd-56ef-1234567890ab`;

const PUBLISHER = `arn:aws:iam::${ACCOUNT}:role/ci/podiam-publisher`;
const EVERYTHING = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** The key policy of docs/operations.md, "Signing the bundle" (its only JSON block). */
function documentedKeyPolicy(): object {
  const doc = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Signing the bundle'));
  const block = /```json\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'docs/operations.md shows the key policy');
  return JSON.parse(block[1]!.replace(/^ {3}/gm, '')) as object;
}

let template: Record<string, unknown>;
let keyPolicy: object;
before(() => {
  template = loadTemplate();
  keyPolicy = documentedKeyPolicy();
});

function params(signingKey: string): TemplateParams {
  return {
    ClusterName: 'prod',
    IntermediateRoleArns: [`arn:aws:iam::${ACCOUNT}:role/podiam-prod-node-proxy`],
    PermissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/podiam/podiam-workload-boundary`,
    BundleKey: 'bundle.json',
    BundleBucketName: 'podiam-bundles',
    AccountId: ACCOUNT,
    BundleSigningKeyArn: signingKey,
  };
}

/** What KMS decides for `principal` (a role's session) with this identity policy, under the documented key policy. */
async function kmsDecision(principalRole: string, identity: object, action: string, key: string): Promise<string> {
  const session = principalRole.replace(':iam::', ':sts::').replace(/:role\/(?:.*\/)?([^/]+)$/, ':assumed-role/$1/session');
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'identity', policy: identity }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: keyPolicy,
      request: { principal: session, action, resource: { resource: key, accountId: ACCOUNT }, contextVariables: { 'aws:PrincipalArn': principalRole } },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error for ${action}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

function decision(fn: string, signingKey: string, action: string, key: string): Promise<string> {
  return kmsDecision(`arn:aws:iam::${ACCOUNT}:role/podiam-${fn}Role`, functionPolicy(template, fn, params(signingKey)), action, key);
}

describe('template.yaml: bundle signature checks', () => {
  for (const fn of ['ReconcileFunction', 'AdmissionFunction']) {
    it(`lets ${fn} kms:Verify with the stack's signing key only, and never sign`, async () => {
      assert.equal(await decision(fn, KEY, 'kms:Verify', KEY), 'Allowed');
      assert.notEqual(await decision(fn, KEY, 'kms:Verify', OTHER_KEY), 'Allowed');
      for (const action of ['kms:Sign', 'kms:GetPublicKey', 'kms:PutKeyPolicy', 'kms:Decrypt']) assert.notEqual(await decision(fn, KEY, action, KEY), 'Allowed', action);
    });

    it(`gives ${fn} no KMS access when the stack names no signing key`, async () => {
      assert.notEqual(await decision(fn, '', 'kms:Verify', KEY), 'Allowed');
    });
  }

  it('gives the rotate function no KMS access (it never reads the bundle)', async () => {
    assert.notEqual(await decision('RotateFunction', KEY, 'kms:Verify', KEY), 'Allowed');
  });

  it('lets the publisher sign with the documented key policy, and not an administrator whose identity policy allows everything', async () => {
    assert.equal(await kmsDecision(PUBLISHER, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['kms:Sign', 'kms:DescribeKey'], Resource: KEY }] }, 'kms:Sign', KEY), 'Allowed');
    assert.notEqual(await kmsDecision(`arn:aws:iam::${ACCOUNT}:role/Administrator`, EVERYTHING, 'kms:Sign', KEY), 'Allowed');
  });

  it('hands every function the key through PODIAM_BUNDLE_SIGNING_KEY_ARN', () => {
    const globals = template.Globals as { Function: { Environment: { Variables: Record<string, unknown> } } };
    assert.deepEqual(globals.Function.Environment.Variables.PODIAM_BUNDLE_SIGNING_KEY_ARN, { Ref: 'BundleSigningKeyArn' });
    const param = (template.Parameters as Record<string, { Default?: unknown }>).BundleSigningKeyArn;
    assert.equal(param?.Default, '', 'without the parameter, behaviour is unchanged');
  });
});
