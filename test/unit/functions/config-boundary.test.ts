// The functions refuse to start without a boundary unless the stack says, in so many words, that
// its roles have none; and they read the managed-policy allowlist (issue 10, item 2).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadFunctionsConfig, NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';
import { PodiamError } from '../../../core/src/errors.ts';

const base = {
  PODIAM_CLUSTER_NAME: 'prod',
  PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy',
  PODIAM_BUNDLE_BUCKET: 'bucket',
};
const BOUNDARY = 'arn:aws:iam::123456789012:policy/podiam/podiam-workload-boundary';

function refusal(setting: string, text: RegExp) {
  return (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_CONFIG_INVALID' && err.message.startsWith(`${setting}:`) && text.test(err.message);
}

describe('functions configuration: the boundary comes from the stack', () => {
  it('refuses to start with neither a boundary nor the explicit no-boundary acknowledgement, naming both settings', () => {
    assert.throws(() => loadFunctionsConfig(base), refusal('PODIAM_PERMISSIONS_BOUNDARY_ARN', /AllowNoPermissionsBoundary .*I-understand-roles-have-no-boundary/));
  });

  it('starts with a boundary, and with the acknowledgement alone, but not with both or a near-miss acknowledgement', () => {
    assert.equal(loadFunctionsConfig({ ...base, PODIAM_PERMISSIONS_BOUNDARY_ARN: BOUNDARY }).permissionsBoundaryArn, BOUNDARY);
    assert.equal(loadFunctionsConfig({ ...base, PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT }).permissionsBoundaryArn, undefined);
    assert.throws(
      () => loadFunctionsConfig({ ...base, PODIAM_PERMISSIONS_BOUNDARY_ARN: BOUNDARY, PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT }),
      refusal('PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY', /is set although/),
    );
    assert.throws(() => loadFunctionsConfig({ ...base, PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: 'true' }), refusal('PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY', /not the acknowledgement/));
  });

  it('reads the attachable managed policies, none by default, and refuses one that is not a policy ARN', () => {
    const env = { ...base, PODIAM_PERMISSIONS_BOUNDARY_ARN: BOUNDARY };
    assert.deepEqual(loadFunctionsConfig(env).attachableManagedPolicyArns, []);
    const xray = 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess';
    assert.deepEqual(loadFunctionsConfig({ ...env, PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS: ` ${xray}, ${xray}` }).attachableManagedPolicyArns, [xray]);
    assert.throws(() => loadFunctionsConfig({ ...env, PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS: 'AdministratorAccess' }), refusal('PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS', /not a managed policy ARN/));
  });
});
