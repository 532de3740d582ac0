import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadAdmissionConfig, loadFunctionsConfig, webhookSecretSha256 } from '../../../functions/lib/config.ts';
import { parseBundle } from '../../../functions/lib/bundle-source.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { exampleBundle } from './fixtures.ts';

const env = {
  PODIAM_CLUSTER_NAME: 'prod',
  PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b',
  PODIAM_BUNDLE_BUCKET: 'bucket',
  PODIAM_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::123456789012:policy/podiam-boundary',
};

describe('functions configuration', () => {
/** With a boundary, so only the admission settings decide the outcome. */
const admissionEnv = { ...env, PODIAM_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::123456789012:policy/podiam-boundary' };

  it('reads the settings with their defaults', () => {
    const c = loadFunctionsConfig(env);
    assert.deepEqual(c.intermediateRoleArns, ['arn:aws:iam::123456789012:role/a', 'arn:aws:iam::123456789012:role/b']);
    assert.equal(c.bundleKey, 'bundle.json');
    assert.equal(c.stateKey, 'state/prod/intermediate-rotation.json');
  });

  it('names the setting and the fix for each bad value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PODIAM_CLUSTER_NAME: '' }, /PODIAM_CLUSTER_NAME: is not set/],
      [{ PODIAM_CLUSTER_NAME: 'Prod_1' }, /PODIAM_CLUSTER_NAME: 'Prod_1' is not a DNS-1123 label/],
      [{ PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::1:user/x' }, /PODIAM_INTERMEDIATE_ROLE_ARNS: .* is not an IAM role ARN/],
      [{ PODIAM_PERMISSIONS_BOUNDARY_ARN: 'boundary' }, /PODIAM_PERMISSIONS_BOUNDARY_ARN/],
      [{ PODIAM_TRUST_REQUIRE_NAMESPACE_TAG: 'maybe' }, /PODIAM_TRUST_REQUIRE_NAMESPACE_TAG: 'maybe' is not a boolean/],
      [{ PODIAM_TRUST_REQUIRE_NAMESPACE_TAG: 'false' }, /PODIAM_TRUST_REQUIRE_NAMESPACE_TAG: is 'false', but the namespace binding can no longer be turned off/],
    ];
    for (const [override, message] of cases) {
      assert.throws(() => loadFunctionsConfig({ ...env, ...override }), (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_CONFIG_INVALID' && message.test(err.message));
    }
  });

  it('takes only the SHA-256 of the webhook secret, as 64 hex digits', () => {
    const env = admissionEnv;
    const hash = webhookSecretSha256('x'.repeat(40));
    assert.equal(loadAdmissionConfig({ ...env, PODIAM_WEBHOOK_SECRET_SHA256: hash.toUpperCase() }).webhookSecretSha256, hash);
    assert.throws(() => loadAdmissionConfig({ ...env }), (err: unknown) => err instanceof PodiamError && /PODIAM_WEBHOOK_SECRET_SHA256: is not set/.test(err.message));
    assert.throws(() => loadAdmissionConfig({ ...env, PODIAM_WEBHOOK_SECRET_SHA256: hash.slice(1) }), (err: unknown) => err instanceof PodiamError && /not 64 hex digits/.test(err.message));
  });

  it('refuses the plain webhook secret in the environment and never puts it in the message', () => {
    const env = admissionEnv;
    const plain = 'plain-secret-0123456789abcdef0123456789';
    assert.throws(
      () => loadAdmissionConfig({ ...env, PODIAM_WEBHOOK_SECRET: plain, PODIAM_WEBHOOK_SECRET_SHA256: webhookSecretSha256(plain) }),
      (err: unknown) => err instanceof PodiamError && /PODIAM_WEBHOOK_SECRET: is set; the function must hold only the hash/.test(err.message) && !err.message.includes(plain),
    );
  });
});

describe('bundle validation', () => {
  it('accepts a bundle as podiam publish writes it', () => {
    assert.equal(parseBundle(JSON.stringify(exampleBundle())).services.length, 3);
  });

  it('refuses a wrong schema version, a bad hash and a service without a DNS-1123 name', () => {
    const b = exampleBundle();
    for (const bad of [{ ...b, schemaVersion: 2 }, { ...b, hash: 'abc' }, { ...b, services: [{ ...b.services[0], service: 'Bad_Name' }] }]) {
      assert.throws(() => parseBundle(JSON.stringify(bad)), (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_BUNDLE_INVALID');
    }
    assert.throws(() => parseBundle('{'), { code: 'PODIAM_BUNDLE_INVALID' });
    const tampered = exampleBundle();
    tampered.services[0]!.managedPolicyArns = ['arn:aws:iam::aws:policy/AdministratorAccess'];
    assert.throws(() => parseBundle(JSON.stringify(tampered)), /content hash .* does not match/);
  });
});
