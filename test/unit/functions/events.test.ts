import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { requestFor } from '../../../functions/reconcile/events.ts';
import { rotateRequestFor } from '../../../functions/rotate/request.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { intermediateArnScope } from '../../../iam-model/src/intermediate-arns.ts';

const event = (name: string) => JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));
const config = { cluster: 'prod', bundleBucket: 'podiam-bundles', bundleKey: 'bundle.json' };
const scope = intermediateArnScope({ partition: 'aws', accountId: '123456789012', configured: ['arn:aws:iam::123456789012:role/podiam-prod-node-proxy'], foreignAllowed: [] });

describe('reconcile events', () => {
  it('runs the whole cluster for the bundle upload and the schedule', () => {
    assert.deepEqual(requestFor(event('reconcile-bundle-published.json'), config), { run: true, request: { trigger: 'bundle b1946ac92492d2347c6235b4d2611184' } });
    assert.deepEqual(requestFor(event('reconcile-scheduled.json'), config), { run: true, request: { trigger: 'schedule' } });
  });

  it('runs one role for a CloudTrail drift event', () => {
    assert.deepEqual(requestFor(event('reconcile-cloudtrail-drift.json'), config), { run: true, request: { trigger: 'drift PutRolePolicy', scope: ['prod.orders.reader'] } });
  });

  it('runs the whole cluster when the intermediate role\'s assume policy is changed by hand', () => {
    const drift = event('reconcile-cloudtrail-drift.json');
    drift.detail.requestParameters = { roleName: 'podiam-prod-node-proxy', policyName: 'podiam-assume-managed-roles' };
    const withIntermediate = { ...config, intermediateRoleArns: ['arn:aws:iam::123456789012:role/podiam-prod-node-proxy'] };
    assert.deepEqual(requestFor(drift, withIntermediate), { run: true, request: { trigger: 'drift PutRolePolicy on the intermediate role podiam-prod-node-proxy' } });
    drift.detail.requestParameters = { roleName: 'some-other-role', policyName: 'podiam-assume-managed-roles' };
    assert.equal(requestFor(drift, withIntermediate).run, false, 'a role that is not an intermediate role of this stack');
    drift.detail.requestParameters = { roleName: 'podiam-prod-node-proxy', policyName: 'unrelated' };
    assert.equal(requestFor(drift, withIntermediate).run, false, 'another policy of the node role');
  });

  it('skips drift events caused by its own role but not by the admission function', () => {
    const own = event('reconcile-cloudtrail-drift.json');
    own.detail.userIdentity.sessionContext.sessionIssuer.arn = 'arn:aws:iam::123456789012:role/podiam-ReconcileFunctionRole-ABC';
    assert.equal(requestFor(own, { ...config, selfRoleArn: 'arn:aws:iam::123456789012:role/podiam-ReconcileFunctionRole-ABC' }).run, false);
    assert.equal(requestFor(own, { ...config, selfRoleArn: 'arn:aws:iam::123456789012:role/podiam-AdmissionFunctionRole-DEF' }).run, true);
  });

  it('ignores another bucket’s object, another cluster’s role and unknown events', () => {
    const other = event('reconcile-bundle-published.json');
    other.detail.bucket.name = 'elsewhere';
    assert.equal(requestFor(other, config).run, false);
    const staging = event('reconcile-cloudtrail-drift.json');
    staging.detail.requestParameters.roleName = 'staging.orders.reader';
    assert.equal(requestFor(staging, config).run, false);
    assert.equal(requestFor({ hello: 'world' }, config).run, false);
  });
});

describe('rotate requests', () => {
  it('reads each action from its sample event', () => {
    assert.deepEqual(rotateRequestFor(event('rotate-revoke-sessions.json'), 'prod', scope), { action: 'revoke-sessions', namespace: 'orders', service: 'reader' });
    assert.deepEqual(rotateRequestFor(event('rotate-begin-intermediate-rotation.json'), 'prod', scope), { action: 'begin-intermediate-rotation', newRoleArn: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy-v2' });
    assert.deepEqual(rotateRequestFor(event('rotate-finish-intermediate-rotation.json'), 'prod', scope), { action: 'finish-intermediate-rotation', oldRoleArn: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy' });
    assert.deepEqual(rotateRequestFor(event('reconcile-scheduled.json'), 'prod', scope), { action: 'prune-intermediates' });
  });

  it('refuses another cluster, a bad ARN and a service without its namespace', () => {
    const bad = (mutate: (e: { detail: Record<string, unknown> }) => void) => {
      const e = event('rotate-revoke-sessions.json');
      mutate(e);
      return () => rotateRequestFor(e, 'prod', scope);
    };
    const invalid = (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_ROTATE_REQUEST_INVALID';
    assert.throws(bad((e) => (e.detail.cluster = 'staging')), invalid);
    assert.throws(bad((e) => delete e.detail.namespace), invalid);
    assert.throws(bad((e) => Object.assign(e.detail, { action: 'begin-intermediate-rotation', newRoleArn: 'not-an-arn' })), invalid);
  });

  it('refuses an intermediate role of another account or partition in begin and finish', () => {
    const notAllowed = (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_INTERMEDIATE_ROLE_NOT_ALLOWED';
    for (const [field, action] of [['newRoleArn', 'begin-intermediate-rotation'], ['oldRoleArn', 'finish-intermediate-rotation']] as const) {
      for (const arn of ['arn:aws:iam::999999999999:role/attacker', 'arn:aws-cn:iam::123456789012:role/podiam-prod-node-proxy-v2']) {
        const e = event('rotate-begin-intermediate-rotation.json');
        e.detail = { cluster: 'prod', action, [field]: arn };
        assert.throws(() => rotateRequestFor(e, 'prod', scope), notAllowed, `${action} ${arn}`);
      }
    }
  });
});
