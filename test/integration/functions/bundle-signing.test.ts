// Issue 10 item 2: optional bundle signing with an asymmetric KMS key. Against moto (S3, IAM and
// KMS on one loopback endpoint): `podiam publish --kms-key-id` (the real CLI) signs, and the real
// reconcile and admission handlers of a stack with BundleSigningKeyArn refuse every bundle that
// KMS does not confirm for that key, with IAM unchanged. The content hash alone is no defence:
// whoever can write the bucket can recompute it.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreatePolicyCommand, GetRolePolicyCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { run } from '../../../cli/src/main.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { managedRoleName } from '../../../core/src/naming.ts';
import { createAdmissionHandler } from '../../../functions/admission/handler.ts';
import type { AdmissionConfig, FunctionsConfig } from '../../../functions/lib/config.ts';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import type { SignedBundle } from '../../../iam-model/src/bundle/signature.ts';
import { bundleHash } from '../../../iam-model/src/bundle/canonical-json.ts';
import { podReview, urlEvent, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { BUCKET, BUNDLE_KEY, CLUSTER, startHarness, type Harness } from './harness.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const published = JSON.parse(readFileSync(path.join(repo, 'events/reconcile-bundle-published.json'), 'utf8')) as unknown;
const tmp = mkdtempSync(path.join(tmpdir(), 'podiam-signing-'));

let h: Harness;
let kms: KMSClient;
/** The stack's signing key and another key of the same account. */
let stackKey: string;
let otherKey: string;
/** The boundary that policies/guardrails.json names, created in moto so reconcile can set it. */
let boundary: string;

async function createSigningKey(): Promise<string> {
  const out = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: 'podiam bundle signing (test)' }));
  return out.KeyMetadata!.Arn!;
}

/** `podiam publish policies --bucket … [--kms-key-id KEY]` through the CLI's entry; the uploaded bundle. */
async function publish(kmsKeyId?: string): Promise<SignedBundle> {
  const out = path.join(tmp, 'bundle.json');
  let stderr = '';
  const env = { AWS_ACCESS_KEY_ID: h.moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: h.moto.credentials.secretAccessKey, AWS_REGION: h.moto.region, AWS_ENDPOINT_URL: h.moto.endpoint };
  const args = ['publish', path.join(repo, 'policies'), '--cluster', CLUSTER, '--out', out, '--bucket', BUCKET, '--key', BUNDLE_KEY, ...(kmsKeyId ? ['--kms-key-id', kmsKeyId] : [])];
  const code = await run(args, { stdout: () => {}, stderr: (t) => (stderr += t), env });
  assert.equal(code, 0, stderr);
  return JSON.parse(readFileSync(out, 'utf8')) as SignedBundle;
}

/** Writes a bundle as someone with s3:PutObject on the key would: any bytes, no podiam involved. */
async function putObject(bundle: unknown): Promise<void> {
  await h.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: BUNDLE_KEY, Body: JSON.stringify(bundle), ContentType: 'application/json' }));
}

/** The signed bundle with one more action for orders/reader and a recomputed (valid) content hash. */
function tampered(signed: SignedBundle, moveSignature: boolean): SignedBundle {
  const copy = structuredClone(signed);
  const reader = copy.services.find((s) => s.namespace === 'orders' && s.service === 'reader')!;
  const statements = Array.isArray(reader.policy.Statement) ? reader.policy.Statement : [reader.policy.Statement];
  statements.push({ Sid: 'Injected', Effect: 'Allow', Action: 'dynamodb:DeleteTable', Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders' });
  reader.policy.Statement = statements;
  copy.hash = bundleHash({ guardrails: copy.guardrails, services: copy.services, acknowledgeDeletions: copy.acknowledgeDeletions });
  // Moved: the old signature now claims the new hash, so only KMS can tell.
  if (moveSignature) copy.signature = { ...copy.signature!, contentHash: copy.hash };
  return copy;
}

function reconcileWith(config: Partial<FunctionsConfig>) {
  return createReconcileHandler({ ...h.deps, kms, config: { ...h.config, permissionsBoundaryArn: boundary, ...config } });
}

function admissionWith(config: Partial<AdmissionConfig>) {
  const full: AdmissionConfig = { ...h.config, permissionsBoundaryArn: boundary, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 0, ...config };
  return createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, kms, config: full, accountId: h.deps.accountId, log: h.deps.log });
}

async function admit(config: Partial<AdmissionConfig>, service: string, uid: string) {
  const res = (await admissionWith(config)(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': service }, uid })))) as { body: string };
  return (JSON.parse(res.body) as { response: { allowed: boolean; status?: { code?: number; message?: string } } }).response;
}

/** Every managed role's inline policies, to show that a refused bundle changed nothing. */
async function inlinePolicies(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [ns, svc] of [['dns', 'updater'], ['orders', 'ledger'], ['orders', 'reader']] as const) {
    const role = managedRoleName({ cluster: CLUSTER, namespace: ns, service: svc });
    const names = (await h.iam.send(new ListRolePoliciesCommand({ RoleName: role }))).PolicyNames ?? [];
    for (const n of names) out[`${role}/${n}`] = decodeURIComponent((await h.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: n }))).PolicyDocument!);
  }
  return out;
}

const refusedWith = (code: string) => (err: unknown) => err instanceof PodiamError && err.code === code;

before(async () => {
  h = await startHarness();
  kms = new KMSClient({ endpoint: h.moto.endpoint, region: h.moto.region, credentials: h.moto.credentials, maxAttempts: 2 });
  boundary = (await h.iam.send(new CreatePolicyCommand({ PolicyName: 'podiam-workload-boundary', Path: '/podiam/', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }))).Policy!.Arn!;
  stackKey = await createSigningKey();
  otherKey = await createSigningKey();
});
after(async () => {
  kms?.destroy();
  await h?.stop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => h.calls.reset());

describe('podiam publish --kms-key-id', () => {
  it('puts a signature by the key over the content hash into the uploaded bundle', async () => {
    const bundle = await publish(stackKey);
    assert.equal(bundle.signature?.keyId, stackKey);
    assert.equal(bundle.signature?.algorithm, 'ECDSA_SHA_256');
    assert.equal(bundle.signature?.contentHash, bundle.hash);
    assert.ok(Buffer.from(bundle.signature!.signature, 'base64').length > 60, 'a DER ECDSA P-256 signature is about 70 bytes');
  });

  it('refuses to publish with a key that cannot sign, and leaves the uploaded bundle as it was', async () => {
    const before = await publish(stackKey);
    const encryptOnly = (await kms.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }))).KeyMetadata!.Arn!;
    let stderr = '';
    const env = { AWS_ACCESS_KEY_ID: h.moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: h.moto.credentials.secretAccessKey, AWS_REGION: h.moto.region, AWS_ENDPOINT_URL: h.moto.endpoint };
    const args = ['publish', path.join(repo, 'policies'), '--cluster', CLUSTER, '--out', path.join(tmp, 'refused.json'), '--bucket', BUCKET, '--key', BUNDLE_KEY, '--kms-key-id', encryptOnly];
    const code = await run(args, { stdout: () => {}, stderr: (t) => (stderr += t), env });
    assert.equal(code, 1);
    assert.match(stderr, /PODIAM_PUBLISH_FAILED.*SIGN_VERIFY/);
    const stored = await (await h.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: BUNDLE_KEY }))).Body!.transformToString();
    assert.deepEqual((JSON.parse(stored) as SignedBundle).signature, before.signature);
  });
});

describe('reconcile with BundleSigningKeyArn', () => {
  it('applies a bundle that podiam publish signed with the stack’s key', async () => {
    await publish(stackKey);
    const summary = await reconcileWith({ bundleSigningKeyArn: stackKey })(published);
    assert.ok('applied' in summary && summary.applied > 0, JSON.stringify(summary));
    assert.equal(Object.keys(await inlinePolicies()).length, 3);
  });

  it('refuses a bundle changed after signing, with a recomputed hash and the old signature, and changes no role', async () => {
    const before = await inlinePolicies();
    await putObject(tampered(await publish(stackKey), false));
    await assert.rejects(reconcileWith({ bundleSigningKeyArn: stackKey })(published), refusedWith('PODIAM_BUNDLE_SIGNATURE_INVALID'));
    assert.equal(h.calls.writes(), 0);
    assert.deepEqual(await inlinePolicies(), before);
  });

  it('refuses a changed bundle whose old signature claims the new hash (only KMS can tell), and changes no role', async () => {
    const before = await inlinePolicies();
    await putObject(tampered(await publish(stackKey), true));
    await assert.rejects(reconcileWith({ bundleSigningKeyArn: stackKey })(published), refusedWith('PODIAM_BUNDLE_SIGNATURE_INVALID'));
    assert.equal(h.calls.writes(), 0);
    assert.deepEqual(await inlinePolicies(), before);
  });

  it('refuses an unsigned bundle', async () => {
    await publish();
    await assert.rejects(reconcileWith({ bundleSigningKeyArn: stackKey })(published), refusedWith('PODIAM_BUNDLE_SIGNATURE_INVALID'));
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses a bundle signed by another key', async () => {
    await publish(otherKey);
    await assert.rejects(reconcileWith({ bundleSigningKeyArn: stackKey })(published), refusedWith('PODIAM_BUNDLE_SIGNATURE_INVALID'));
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses a bundle signed by another key that names the stack’s key (only KMS can tell)', async () => {
    const signed = await publish(otherKey);
    await putObject({ ...signed, signature: { ...signed.signature!, keyId: stackKey } });
    await assert.rejects(reconcileWith({ bundleSigningKeyArn: stackKey })(published), refusedWith('PODIAM_BUNDLE_SIGNATURE_INVALID'));
    assert.equal(h.calls.writes(), 0);
  });

  it('applies a bundle signed with an RSA key (RSASSA_PSS_SHA_256) when that key is the stack’s', async () => {
    const rsaKey = (await kms.send(new CreateKeyCommand({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;
    const bundle = await publish(rsaKey);
    assert.equal(bundle.signature?.algorithm, 'RSASSA_PSS_SHA_256');
    const summary = await reconcileWith({ bundleSigningKeyArn: rsaKey })(published);
    assert.ok('bundleHash' in summary && summary.bundleHash === bundle.hash, JSON.stringify(summary));
  });

  it('accepts an unsigned bundle when the stack names no signing key', async () => {
    await publish();
    const summary = await reconcileWith({})(published);
    assert.ok('bundleHash' in summary, JSON.stringify(summary));
  });
});

describe('admission with BundleSigningKeyArn', () => {
  it('admits a pod of a bundle signed with the stack’s key', async () => {
    await publish(stackKey);
    const answer = await admit({ bundleSigningKeyArn: stackKey }, 'reader', 'u-signed');
    assert.equal(answer.allowed, true, answer.status?.message);
  });

  it('refuses pods of an unsigned bundle, a changed one, and one signed by another key, with 503 and no IAM write', async () => {
    const unsigned = await publish();
    const other = await publish(otherKey);
    const signed = await publish(stackKey);
    const cases = { unsigned, changed: tampered(signed, true), 'another key': { ...other, signature: { ...other.signature!, keyId: stackKey } } };
    for (const [name, bundle] of Object.entries(cases)) {
      await putObject(bundle);
      const answer = await admit({ bundleSigningKeyArn: stackKey }, 'reader', `u-${name}`);
      assert.equal(answer.allowed, false, name);
      assert.equal(answer.status?.code, 503, name);
      assert.match(answer.status?.message ?? '', /PODIAM_BUNDLE_SIGNATURE_INVALID/, name);
    }
    assert.equal(h.calls.writes(), 0);
  });

  it('admits a pod of an unsigned bundle when the stack names no signing key', async () => {
    await publish();
    const answer = await admit({}, 'reader', 'u-unsigned-ok');
    assert.equal(answer.allowed, true, answer.status?.message);
  });
});
