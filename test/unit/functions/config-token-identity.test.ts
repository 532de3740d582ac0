// PODIAM_TOKEN_AUDIENCE and PODIAM_TOKEN_EXPIRATION_SECONDS (the stack's TokenAudience and
// TokenExpirationSeconds): the projected token the mutating webhook adds (issue 15).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodiamError } from '../../../core/src/errors.ts';
import { loadAdmissionConfig, NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';

const base = {
  PODIAM_CLUSTER_NAME: 'prod',
  PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy',
  PODIAM_BUNDLE_BUCKET: 'bucket',
  PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT,
  PODIAM_WEBHOOK_SECRET_SHA256: 'a'.repeat(64),
};

const invalid = (name: string) => (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_CONFIG_INVALID' && err.message.startsWith(`${name}:`);

describe('admission configuration: token identity', () => {
  it('defaults to audience podiam and 600 s, the API server\'s shortest projected token', () => {
    const config = loadAdmissionConfig(base);
    assert.equal(config.tokenAudience, 'podiam');
    assert.equal(config.tokenExpirationSeconds, 600);
  });

  it('reads an audience and a lifetime from 600 to 86400 s', () => {
    const config = loadAdmissionConfig({ ...base, PODIAM_TOKEN_AUDIENCE: 'podiam.example.com', PODIAM_TOKEN_EXPIRATION_SECONDS: '86400' });
    assert.equal(config.tokenAudience, 'podiam.example.com');
    assert.equal(config.tokenExpirationSeconds, 86400);
  });

  it('refuses a lifetime under 600 or over 86400 s, naming the setting', () => {
    for (const v of ['599', '86401', '10m']) assert.throws(() => loadAdmissionConfig({ ...base, PODIAM_TOKEN_EXPIRATION_SECONDS: v }), invalid('PODIAM_TOKEN_EXPIRATION_SECONDS'), v);
  });

  it('refuses an audience with spaces or commas (one audience, not a list)', () => {
    for (const v of ['a b', 'a,b', 'x'.repeat(257)]) assert.throws(() => loadAdmissionConfig({ ...base, PODIAM_TOKEN_AUDIENCE: v }), invalid('PODIAM_TOKEN_AUDIENCE'), v);
  });
});
