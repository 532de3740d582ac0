// Issue 10, item 2, in template.yaml: a stack deploys only with a boundary or the loud opt-out
// (its Rules), no function may remove a boundary, and AttachRolePolicy is allowed only for the
// stack's AttachableManagedPolicyArns (ArnEquals on iam:PolicyARN), not at all when it is empty.
// Policies are resolved from the template and evaluated with the reference IAM simulator (test
// only); the Rules with the same resolver, as CloudFormation evaluates them before any change.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';
import { failingRules, functionPolicy, loadTemplate, type TemplateParams } from './template-policy.ts';

const ACCOUNT = '123456789012';
const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/podiam/podiam-workload-boundary`;
const XRAY = 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const MANAGED_ROLE = `arn:aws:iam::${ACCOUNT}:role/podiam/prod/prod.orders.writer`;
const TAGGED = { 'aws:ResourceTag/podiam:cluster': 'prod' };
const FUNCTIONS = ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction'] as const;
/** The functions that attach managed policies (reconcile repairs, admission creates on demand). */
const ATTACHING: readonly string[] = ['ReconcileFunction', 'AdmissionFunction'];

let template: Record<string, unknown>;
before(() => {
  template = loadTemplate();
});

function params(overrides: Partial<TemplateParams> = {}): TemplateParams {
  return {
    ClusterName: 'prod',
    IntermediateRoleArns: [`arn:aws:iam::${ACCOUNT}:role/podiam-prod-node-proxy`],
    PermissionsBoundaryArn: BOUNDARY,
    BundleKey: 'bundle.json',
    BundleBucketName: 'podiam-bundles',
    AccountId: ACCOUNT,
    ...overrides,
  };
}

async function decision(policy: object, action: string, context: Record<string, string>): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'template', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/podiam-function/session`,
        action,
        resource: { resource: MANAGED_ROLE, accountId: ACCOUNT },
        contextVariables: context,
      },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error for ${action}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

describe('template.yaml: a stack without a boundary must say so', () => {
  it('refuses a deploy with neither PermissionsBoundaryArn nor AllowNoPermissionsBoundary, and one with both', () => {
    assert.match(failingRules(template, params({ PermissionsBoundaryArn: '' })).join('\n'), /Set PermissionsBoundaryArn, or set AllowNoPermissionsBoundary/);
    assert.match(failingRules(template, params({ AllowNoPermissionsBoundary: NO_BOUNDARY_ACKNOWLEDGEMENT })).join('\n'), /Leave AllowNoPermissionsBoundary empty/);
  });

  it('accepts a deploy with a boundary, or with the acknowledgement alone', () => {
    assert.deepEqual(failingRules(template, params()), []);
    assert.deepEqual(failingRules(template, params({ PermissionsBoundaryArn: '', AllowNoPermissionsBoundary: NO_BOUNDARY_ACKNOWLEDGEMENT })), []);
  });

  it('offers the acknowledgement as the only non-empty value of AllowNoPermissionsBoundary, as the functions expect it', () => {
    const p = (template.Parameters as Record<string, { AllowedValues?: string[] }>).AllowNoPermissionsBoundary;
    assert.deepEqual(p?.AllowedValues, ['', NO_BOUNDARY_ACKNOWLEDGEMENT]);
  });
});

describe('template.yaml: the functions cannot remove a boundary or attach what the stack does not list', () => {
  for (const fn of FUNCTIONS) {
    it(`denies ${fn} iam:DeleteRolePermissionsBoundary, with and without a boundary`, async () => {
      for (const p of [params(), params({ PermissionsBoundaryArn: '', AllowNoPermissionsBoundary: NO_BOUNDARY_ACKNOWLEDGEMENT })]) {
        assert.notEqual(await decision(functionPolicy(template, fn, p), 'iam:DeleteRolePermissionsBoundary', TAGGED), 'Allowed');
      }
    });

    it(`lets ${fn} attach nothing outside the stack’s AttachableManagedPolicyArns (ArnEquals on iam:PolicyARN)`, async () => {
      const policy = functionPolicy(template, fn, params({ AttachableManagedPolicyArns: [XRAY] }));
      assert.notEqual(await decision(policy, 'iam:AttachRolePolicy', { ...TAGGED, 'iam:PolicyARN': ADMIN }), 'Allowed');
      if (!ATTACHING.includes(fn)) return;
      assert.equal(await decision(policy, 'iam:AttachRolePolicy', { ...TAGGED, 'iam:PolicyARN': XRAY }), 'Allowed');
      const statement = (policy.Statement as { Sid?: string; Condition?: Record<string, Record<string, unknown>> }[]).find((s) => s.Sid === 'AttachAllowedManagedPolicies');
      assert.deepEqual(statement?.Condition?.ArnEquals, { 'iam:PolicyARN': [XRAY] });
    });

    it(`grants ${fn} no AttachRolePolicy at all when AttachableManagedPolicyArns is empty`, async () => {
      const policy = functionPolicy(template, fn, params());
      for (const arn of [XRAY, ADMIN]) assert.notEqual(await decision(policy, 'iam:AttachRolePolicy', { ...TAGGED, 'iam:PolicyARN': arn }), 'Allowed', arn);
    });
  }
});
