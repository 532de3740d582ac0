import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPassthroughAllowed, plainPath } from '../../../proxy/src/imds/paths.ts';
import { DEFAULT_PASSTHROUGH_PATHS } from '../../../proxy/src/config.ts';
import { PodiamError } from '../../../core/src/errors.ts';

const invalid = (e: unknown): boolean => e instanceof PodiamError && e.code === 'PODIAM_PATH_INVALID';

describe('request path hygiene', () => {
  it('passes plain IMDS paths through unchanged', () => {
    for (const p of ['/latest/meta-data/iam/security-credentials/', '/latest/meta-data/iam/security-credentials/role+name=,.@_-', '/latest/api/token', '/healthz']) {
      assert.equal(plainPath(p), p);
    }
  });

  it('rejects dot segments, escapes, double slashes, parameters, queries and absolute forms', () => {
    const tricks = [
      '/latest/meta-data/instance-id/../../user-data',
      '/latest/meta-data/placement/..',
      '/latest/meta-data/%2e%2e/user-data',
      '/latest/meta-data/%2E%2E/user-data',
      '/latest/meta-data/placement%2f..%2f..%2fuser-data',
      '/latest//user-data',
      '//latest/user-data',
      '/latest/meta-data/instance-id;/../../user-data',
      '/latest/meta-data/instance-id?x=/../user-data',
      '/latest/meta-data/instance-id#frag',
      '/latest/meta-data\\..\\user-data',
      'http://169.254.169.254/latest/user-data',
      '/latest/meta-data/./instance-id',
      '',
      `/${'a'.repeat(2000)}`,
    ];
    for (const t of tricks) assert.throws(() => plainPath(t), invalid, t);
  });

  it('allows an exact entry and, for an entry ending in /, what lies below it', () => {
    assert.equal(isPassthroughAllowed('/latest/meta-data/instance-id', DEFAULT_PASSTHROUGH_PATHS), true);
    assert.equal(isPassthroughAllowed('/latest/meta-data/placement/availability-zone', DEFAULT_PASSTHROUGH_PATHS), true);
    assert.equal(isPassthroughAllowed('/latest/meta-data/placement', DEFAULT_PASSTHROUGH_PATHS), true);
  });

  it('blocks user-data, the node role, identity credentials and trailing junk by default', () => {
    for (const p of [
      '/latest/user-data',
      '/latest/meta-data/iam/security-credentials/node-role',
      '/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance',
      '/latest/meta-data/instance-idX',
      '/latest/meta-data/instance-id/extra',
      '/latest/meta-data/placementX/zone',
      '/latest/meta-data/',
    ]) {
      assert.equal(isPassthroughAllowed(p, DEFAULT_PASSTHROUGH_PATHS), false, p);
    }
  });
});
