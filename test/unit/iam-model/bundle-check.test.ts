// The functions' re-check of a bundle against its guardrails (issue 10, item 2): the same rules as
// `podiam check`, on the bundle's services, without the AWS action catalog.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { checkBundleGuardrails } from '../../../iam-model/src/check/bundle-check.ts';
import { checkPolicies } from '../../../iam-model/src/check/check.ts';
import { globsIntersect } from '../../../iam-model/src/check/guardrail-rules.ts';
import { bundleOf, exampleBundle, service } from '../functions/fixtures.ts';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const GUARDRAIL_CODES = ['PODIAM_CHECK_GUARDRAIL_ACTION', 'PODIAM_CHECK_ACCOUNT_NOT_ALLOWED', 'PODIAM_CHECK_MANAGED_POLICY_LIMIT', 'PODIAM_CHECK_POLICY_SIZE'];
const denyIam = { deniedActions: [{ action: 'iam:*' }, { action: 'sts:AssumeRole' }], allowedAccounts: ['123456789012'] };

function allow(action: string | string[], resource = '*') {
  return { Version: '2012-10-17' as const, Statement: [{ Effect: 'Allow' as const, Action: action, Resource: resource }] };
}

describe('guardrail re-check of a published bundle', () => {
  it('finds nothing in a bundle whose services keep to its guardrails', () => {
    assert.deepEqual(checkBundleGuardrails(bundleOf(exampleBundle().services, denyIam)), []);
  });

  it('reports a denied action, an account not allowed and too many managed policies, naming the file and the path', () => {
    const bundle = bundleOf(
      [
        service('orders', 'escalator', { policy: allow(['s3:GetObject', 'iam:PassRole']) }),
        service('orders', 'outsider', { policy: allow('dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:999999999999:table/t') }),
        service('orders', 'collector', { managedPolicyArns: ['arn:aws:iam::aws:policy/A', 'arn:aws:iam::aws:policy/B'] }),
      ],
      { ...denyIam, limits: { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 1 } },
    );
    const found = checkBundleGuardrails(bundle).map((f) => `${f.file} ${f.path} ${f.code}`);
    assert.deepEqual(found.sort(), [
      'policies/orders/collector.json $.managedPolicyArns PODIAM_CHECK_MANAGED_POLICY_LIMIT',
      'policies/orders/escalator.json $.policy.Statement[0].Action[1] PODIAM_CHECK_GUARDRAIL_ACTION',
      'policies/orders/outsider.json $.policy.Statement[0].Resource PODIAM_CHECK_ACCOUNT_NOT_ALLOWED',
    ]);
  });

  it('treats two action wildcards that can name one action as overlapping, without the catalog', () => {
    const bundle = bundleOf([service('orders', 'chainer', { policy: allow('sts:*Role') })], { deniedActions: [{ action: 'sts:Assume*' }], allowedAccounts: [] });
    assert.deepEqual(checkBundleGuardrails(bundle).map((f) => f.code), ['PODIAM_CHECK_GUARDRAIL_ACTION']);
    assert.equal(globsIntersect('sts:*Role', 'sts:Assume*'), true);
    assert.equal(globsIntersect('s3:Get*', 'S3:?etObject'), true);
    assert.equal(globsIntersect('s3:Get*', 'sts:*'), false);
    assert.equal(globsIntersect('s3:*Acl', 's3:*Tagging'), false);
  });

  for (const fixture of ['guardrail-action', 'account-not-allowed', 'managed-policy-limit', 'policy-size']) {
    it(`finds what podiam check finds in the ${fixture} fixture, and nothing in its passing twin`, () => {
      for (const side of ['fail', 'pass'] as const) {
        const root = path.join(repo, 'test/fixtures/policies', fixture, side);
        const own = path.join(root, 'guardrails.json');
        const checked = checkPolicies({ root, cluster: 'dev', guardrailsFile: existsSync(own) ? own : path.join(repo, 'policies/guardrails.json'), cwd: root });
        const fromCli = [...new Set(checked.findings.filter((f) => GUARDRAIL_CODES.includes(f.code)).map((f) => f.code))].sort();
        const fromBundle = [...new Set(checkBundleGuardrails(buildBundle(checked.guardrails, checked.services)).map((f) => f.code))].sort();
        assert.deepEqual(fromBundle, fromCli, side);
        if (side === 'fail') assert.ok(fromBundle.length > 0, 'the failing fixture has a guardrail finding');
      }
    });
  }
});
