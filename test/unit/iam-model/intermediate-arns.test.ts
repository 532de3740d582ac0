import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideIntermediateArn, intermediateArnScope } from '../../../iam-model/src/intermediate-arns.ts';

const ACCOUNT = '123456789012';
const configured = `arn:aws:iam::${ACCOUNT}:role/podiam-prod-node-proxy`;
const partnerNode = 'arn:aws:iam::222222222222:role/podiam-prod-node-proxy';

describe('intermediate role ARNs', () => {
  const scope = intermediateArnScope({ partition: 'aws', accountId: ACCOUNT, configured: [configured], foreignAllowed: [] });

  it('allows any role of the stack’s own partition and account, with or without a path', () => {
    for (const arn of [configured, `arn:aws:iam::${ACCOUNT}:role/podiam-prod-node-proxy-v2`, `arn:aws:iam::${ACCOUNT}:role/nodes/proxy`]) {
      assert.deepEqual(decideIntermediateArn(arn, scope), { allowed: true, foreign: false }, arn);
    }
  });

  it('refuses a role of another account unless the stack lists it, and says how to list it', () => {
    const refused = decideIntermediateArn('arn:aws:iam::999999999999:role/attacker', scope);
    assert.equal(refused.allowed, false);
    assert.match(!refused.allowed ? refused.reason : '', /account 999999999999.*ForeignIntermediateRoleArns/);
    const listed = intermediateArnScope({ partition: 'aws', accountId: ACCOUNT, configured: [configured], foreignAllowed: [partnerNode] });
    assert.deepEqual(decideIntermediateArn(partnerNode, listed), { allowed: true, foreign: true });
    // Listing one role of an account does not open the account.
    assert.equal(decideIntermediateArn('arn:aws:iam::222222222222:role/other', listed).allowed, false);
  });

  it('takes a configured role of another account as listed (the operator wrote it into the stack)', () => {
    const crossAccount = intermediateArnScope({ partition: 'aws', accountId: ACCOUNT, configured: [partnerNode], foreignAllowed: [] });
    assert.deepEqual(decideIntermediateArn(partnerNode, crossAccount), { allowed: true, foreign: true });
  });

  it('refuses another partition even for the same account number, and anything that is not a role ARN', () => {
    const cn = `arn:aws-cn:iam::${ACCOUNT}:role/podiam-prod-node-proxy`;
    const listedCn = intermediateArnScope({ partition: 'aws', accountId: ACCOUNT, configured: [], foreignAllowed: [cn] });
    assert.equal(decideIntermediateArn(cn, listedCn).allowed, false);
    for (const arn of [`arn:aws:iam::${ACCOUNT}:user/admin`, `arn:aws:iam::${ACCOUNT}:root`, '*', '']) {
      assert.equal(decideIntermediateArn(arn, scope).allowed, false, arn);
    }
  });
});
