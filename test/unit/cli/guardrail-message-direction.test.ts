// Issue 14, item 8: the guardrail finding read the wrong way round. For the rule 'organizations:*'
// and the granted 'organizations:ListAccounts' it said "'organizations:ListAccounts' allows
// 'organizations:*'", as if one action granted the whole service. The message now says which side
// contains which.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Guardrails } from '../../../iam-model/src/bundle/bundle.ts';
import { checkFileText } from '../../../iam-model/src/check/check.ts';
import type { Finding } from '../../../iam-model/src/check/finding.ts';
import { parseGuardrails } from '../../../iam-model/src/check/guardrails.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const shipped: Guardrails = parseGuardrails(JSON.parse(readFileSync(path.join(repo, 'policies/guardrails.json'), 'utf8')));

function guardrailMessages(statement: Record<string, unknown>, guardrails: Guardrails = shipped): string[] {
  const findings: Finding[] = [];
  const text = JSON.stringify({ Version: '2012-10-17', Statement: [statement] }, null, 2);
  checkFileText(text, { file: 'team/app.json', bundleFile: 'policies/team/app.json', namespace: 'team', service: 'app' }, { cluster: 'dev', guardrails }, findings);
  return findings.filter((f) => f.code === 'PODIAM_CHECK_GUARDRAIL_ACTION').map((f) => f.message);
}

describe('guardrail findings read the right way round', () => {
  it("says a granted action is denied by the guardrails' wider rule, not that it allows the rule", () => {
    const [message, ...rest] = guardrailMessages({ Effect: 'Allow', Action: 'organizations:ListAccounts', Resource: '*' });
    assert.deepEqual(rest, []);
    assert.equal(message, "'organizations:ListAccounts' is denied by the guardrails' rule 'organizations:*'; remove it from this statement. Organization changes are made by the platform team only.");
    assert.doesNotMatch(message!, /ListAccounts' allows 'organizations/);
  });

  it('says a granted wildcard includes the denied action', () => {
    const [message] = guardrailMessages({ Effect: 'Allow', Action: 'sts:Assume*', Resource: '*' });
    assert.match(message!, /^'sts:Assume\*' includes 'sts:AssumeRole', which the guardrails deny; narrow the wildcard/);
  });

  it('names the resource scope of the rule, and no rule when the granted action is the denied one', () => {
    assert.match(guardrailMessages({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' })[0]!, /^'kms:Decrypt' is denied by the guardrails' rule 'kms:\*' on "\*"; /);
    assert.match(guardrailMessages({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' })[0]!, /^'sts:AssumeRole' is denied by the guardrails; /);
  });

  it('says two wildcards that only overlap share actions, naming neither as containing the other', () => {
    const guardrails: Guardrails = { ...shipped, deniedActions: [{ action: 's3:*Object' }] };
    const [message] = guardrailMessages({ Effect: 'Allow', Action: 's3:Get*', Resource: 'arn:aws:s3:::podiam-demo-orders/*' }, guardrails);
    assert.match(message!, /^'s3:Get\*' includes actions of 's3:\*Object', which the guardrails deny; /);
  });

  it('says a NotAction statement allows the denied action because its list leaves it out', () => {
    const [message] = guardrailMessages({ Effect: 'Allow', NotAction: ['organizations:*', 'sts:AssumeRole', 'kms:*'], Resource: '*' });
    assert.match(message!, /^statement #0 allows every action its NotAction list leaves out, 'iam:\*' among them, which the guardrails deny; /);
  });
});
