// The `handler` exports as Lambda runs them: configuration from the environment, SDK clients
// built once at module scope (account ID from sts:GetCallerIdentity), driven with the sample events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';

const event = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));

let h: Harness;
const saved = { ...process.env };

before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN']) delete process.env[k];
  Object.assign(process.env, h.env, { PODIAM_WEBHOOK_SECRET_SHA256: WEBHOOK_SECRET_SHA256, AWS_EC2_METADATA_DISABLED: 'true' });
});
after(async () => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  await h?.stop();
});

describe('handlers configured from the environment', () => {
  it('reconcile creates the roles from the bundle-published event', async () => {
    const { handler } = await import('../../../functions/reconcile/handler.ts');
    const result = await handler(event('reconcile-bundle-published.json'));
    assert.ok('planned' in result);
    assert.deepEqual(result.planned, { 'create-role': 3, 'put-intermediate-policy': 1 });
  });

  it('admission answers an AdmissionReview through the Function URL event', async () => {
    const { handler } = await import('../../../functions/admission/handler.ts');
    const res = await handler(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'reader' }, uid: 'env-1' })));
    assert.equal(typeof res === 'object' && res.statusCode, 200);
    assert.deepEqual(JSON.parse((res as { body: string }).body).response, { uid: 'env-1', allowed: true });
  });

  it('rotate revokes the sessions named by the custom event', async () => {
    const { handler } = await import('../../../functions/rotate/handler.ts');
    const result = await handler(event('rotate-revoke-sessions.json'));
    assert.deepEqual('revoked' in result && result.revoked, ['prod.orders.reader']);
    const got = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'prod.orders.reader', PolicyName: 'AWSRevokeOlderSessions' }));
    assert.match(decodeURIComponent(got.PolicyDocument!), /aws:TokenIssueTime/);
  });
});
