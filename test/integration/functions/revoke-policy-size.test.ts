// Issue 10.9: IAM's 10,240 characters are the total of ALL inline policies of a role, so writing
// AWSRevokeOlderSessions on a role with a large service policy failed with LimitExceeded in the
// middle of an emergency revocation. Driven through the real rotate handler against moto: the
// aggregate is counted as IAM counts it (whitespace not counted) and a role without room is
// reported by name with its numbers, while the other roles of the request are still revoked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteRolePolicyCommand, GetRolePolicyCommand, ListRolePoliciesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { ROLE_INLINE_POLICIES_MAX_CHARS } from '../../../functions/lib/rotate.ts';
import { managedRoleName } from '../../../core/src/naming.ts';
import { iamPolicySize } from '../../../iam-model/src/check/size-rules.ts';
import { parseIamDocument } from '../../../iam-model/src/policy-compare.ts';
import { revokeOlderSessionsPolicy } from '../../../iam-model/src/trust.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';

let h: Harness;
let rotate: ReturnType<typeof createRotateHandler>;
const reader = managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'reader' });
const writer = managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'writer' });
const REVOKE_CHARS = iamPolicySize(revokeOlderSessionsPolicy(new Date()));

before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'setup' });
  rotate = createRotateHandler(h.deps);
});
after(() => h?.stop());

const revoke = (detail: Record<string, unknown>) => rotate({ source: 'podiam', 'detail-type': 'podiam rotate', detail: { cluster: CLUSTER, action: 'revoke-sessions', ...detail } });

/** A hand-made inline policy of exactly `chars` characters as IAM counts them. */
function paddingPolicy(chars: number): string {
  const doc = (pad: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:GetObject', Resource: `arn:aws:s3:::${pad}` }] });
  const base = iamPolicySize(doc(''));
  assert.ok(chars > base, `padding of ${chars} characters is possible`);
  const text = JSON.stringify(doc('p'.repeat(chars - base)));
  assert.equal(iamPolicySize(JSON.parse(text)), chars);
  return text;
}

async function inlineTotal(role: string): Promise<number> {
  const names = (await h.iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? [];
  let total = 0;
  for (const name of names) total += iamPolicySize(parseIamDocument((await h.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: name }))).PolicyDocument));
  return total;
}

async function policyNames(role: string): Promise<string[]> {
  return ((await h.iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? []).sort();
}

describe('revoking sessions of a role whose inline policies are near IAM’s 10,240 characters', () => {
  it('reports the role with its total instead of failing on LimitExceeded, and still revokes the other roles', async () => {
    const servicePolicy = await inlineTotal(reader);
    // One character more than the revocation's room.
    await h.iam.send(new PutRolePolicyCommand({ RoleName: reader, PolicyName: 'hand-made', PolicyDocument: paddingPolicy(ROLE_INLINE_POLICIES_MAX_CHARS - REVOKE_CHARS - servicePolicy + 1) }));
    assert.equal(await inlineTotal(reader), ROLE_INLINE_POLICIES_MAX_CHARS - REVOKE_CHARS + 1);

    await assert.rejects(revoke({ namespace: 'orders' }), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'PODIAM_REVOKE_POLICY_TOO_LARGE');
      assert.match(err.message ?? '', new RegExp(`${reader.replace(/\./g, '\\.')}: inline policies ${ROLE_INLINE_POLICIES_MAX_CHARS - REVOKE_CHARS + 1} \\+ revocation ${REVOKE_CHARS} > 10240`));
      assert.match(err.message ?? '', /1 other role\(s\) were/);
      return true;
    });
    assert.ok(!(await policyNames(reader)).includes('AWSRevokeOlderSessions'));
    assert.ok((await policyNames(writer)).includes('AWSRevokeOlderSessions'), 'the other role of the namespace was revoked');
  });

  it('revokes a role whose inline policies leave exactly the room the revocation needs', async () => {
    const servicePolicy = iamPolicySize(parseIamDocument((await h.iam.send(new GetRolePolicyCommand({ RoleName: reader, PolicyName: 'podiam-service-policy' }))).PolicyDocument));
    await h.iam.send(new DeleteRolePolicyCommand({ RoleName: reader, PolicyName: 'hand-made' }));
    await h.iam.send(new PutRolePolicyCommand({ RoleName: reader, PolicyName: 'hand-made', PolicyDocument: paddingPolicy(ROLE_INLINE_POLICIES_MAX_CHARS - REVOKE_CHARS - servicePolicy) }));

    const answer = await revoke({ namespace: 'orders', service: 'reader' });

    assert.deepEqual('revoked' in answer && answer.revoked, [reader]);
    assert.equal(await inlineTotal(reader), ROLE_INLINE_POLICIES_MAX_CHARS);
  });
});
