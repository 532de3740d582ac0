// PODIAM_BUNDLE_SIGNING_KEY_ARN (the stack's BundleSigningKeyArn): a key ARN turns signature checks
// on, anything else stops the function at start rather than run with checks it cannot make; and a
// stack with a key but no KMS client fails closed (issue 10, item 2).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KMSClient } from '@aws-sdk/client-kms';
import { PodiamError } from '../../../core/src/errors.ts';
import { verifierFor } from '../../../functions/lib/bundle-signature.ts';
import { loadFunctionsConfig, NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';

const base = {
  PODIAM_CLUSTER_NAME: 'prod',
  PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy',
  PODIAM_BUNDLE_BUCKET: 'bucket',
  PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT,
};
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const invalid = (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_CONFIG_INVALID' && err.message.startsWith('PODIAM_BUNDLE_SIGNING_KEY_ARN:');

describe('functions configuration: the bundle signing key', () => {
  it('reads a KMS key ARN, and leaves signature checks off when it is empty', () => {
    assert.equal(loadFunctionsConfig({ ...base, PODIAM_BUNDLE_SIGNING_KEY_ARN: KEY }).bundleSigningKeyArn, KEY);
    assert.equal(loadFunctionsConfig({ ...base, PODIAM_BUNDLE_SIGNING_KEY_ARN: '' }).bundleSigningKeyArn, undefined);
  });

  it('refuses an alias, a bare key ID or another ARN, naming the setting', () => {
    for (const v of ['alias/podiam-bundles', '1234abcd-12ab-34cd-56ef-1234567890ab', 'arn:aws:kms:us-east-1:123456789012:alias/podiam', 'arn:aws:iam::123456789012:role/x']) {
      assert.throws(() => loadFunctionsConfig({ ...base, PODIAM_BUNDLE_SIGNING_KEY_ARN: v }), invalid, v);
    }
  });

  it('gives no verifier without a key, and refuses to build one with a key but no KMS client', () => {
    const kms = new KMSClient({ region: 'us-east-1' });
    try {
      assert.equal(verifierFor({}, kms), undefined);
      assert.equal(typeof verifierFor({ bundleSigningKeyArn: KEY }, kms), 'function');
      assert.throws(() => verifierFor({ bundleSigningKeyArn: KEY }, undefined), invalid);
    } finally {
      kms.destroy();
    }
  });
});
