import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { GetRoleCommand, GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { createAdmissionHandler, type AdmissionHandler } from '../../../functions/admission/handler.ts';
import type { AdmissionConfig } from '../../../functions/lib/config.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';

let h: Harness;
let admit: AdmissionHandler;

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf([service('orders', 'reader'), service('orders', 'writer')]));
  // reader exists in IAM; writer is only in the bundle (the on-demand case).
  await reconcile(h.deps, { trigger: 'setup', scope: ['prod.orders.reader'] });
  const config: AdmissionConfig = { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 30000 };
  admit = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: h.deps.log });
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

function namespaceReview(annotations: Record<string, string>) {
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', annotations } };
  const request = { uid: 'uid-ns', kind: { group: '', version: 'v1', kind: 'Namespace' }, resource: { group: '', version: 'v1', resource: 'namespaces' }, name: 'team-a', namespace: 'team-a', operation: 'CREATE', dryRun: false, object: namespace, oldObject: null };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

async function answer(body: unknown, secret?: string) {
  const res = await admit(urlEvent(body, secret));
  assert.equal(typeof res, 'object');
  const r = res as { statusCode: number; body: string };
  return { status: r.statusCode, body: JSON.parse(r.body) as { response?: { uid: string; allowed: boolean; status?: { message: string; code: number }; warnings?: string[] }; code?: string; message?: string } };
}

describe('admission webhook (Function URL) against moto', () => {
  it('allows a pod whose namespace role is in the bundle and exists, without any IAM write', async () => {
    const { status, body } = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'reader' }, uid: 'u-allow' }));
    assert.equal(status, 200);
    assert.deepEqual(body.response, { uid: 'u-allow', allowed: true });
    assert.equal(h.calls.writes(), 0);
  });

  it('denies a role that is not in the bundle, naming the missing policies file', async () => {
    const { status, body } = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'billing' } }));
    assert.equal(status, 200);
    assert.equal(body.response?.allowed, false);
    assert.equal(body.response?.status?.code, 403);
    assert.match(body.response!.status!.message, /^PODIAM_ROLE_NOT_IN_BUNDLE: .*policies\/orders\/billing\.json/);
    assert.equal(h.calls.writes(), 0);
  });

  it('creates a role that is in the bundle but missing in IAM before allowing the pod', async () => {
    await assert.rejects(h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.writer' })), { name: 'NoSuchEntityException' });
    const { body } = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'writer' } }));
    assert.equal(body.response?.allowed, true);
    assert.equal(h.calls.byName().CreateRole, 1);
    const role = (await h.iam.send(new GetRoleCommand({ RoleName: 'prod.orders.writer' }))).Role!;
    assert.equal(role.Path, '/podiam/prod/');
    assert.deepEqual(Object.fromEntries(role.Tags!.map((t) => [t.Key, t.Value])), { 'podiam:cluster': 'prod', 'podiam:namespace': 'orders', 'podiam:service': 'writer' });
    const inline = await h.iam.send(new GetRolePolicyCommand({ RoleName: 'prod.orders.writer', PolicyName: 'podiam-service-policy' }));
    assert.match(decodeURIComponent(inline.PolicyDocument!), /orders-writer/);
  });

  it('denies another namespace’s managed role even when it exists', async () => {
    const { body } = await answer(podReview({ namespace: 'dns', annotations: { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader' } }));
    assert.equal(body.response?.allowed, false);
    assert.match(body.response!.status!.message, /^PODIAM_ROLE_OF_OTHER_NAMESPACE/);
  });

  it('admits an unmanaged role ARN with a warning and leaves the namespace annotations to the proxy', async () => {
    const { body } = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/legacy-reader' } }));
    assert.equal(body.response?.allowed, true);
    assert.equal(body.response?.warnings?.length, 1);
    assert.match(body.response!.warnings![0]!, /legacy-reader: podiam admission cannot read namespace annotations/);
    assert.equal(h.calls.writes(), 0);
  });

  it('allows pods without a role annotation and updates that keep the annotation', async () => {
    assert.equal((await answer(podReview({}))).body.response?.allowed, true);
    const gone = { 'iam.amazonaws.com/role': 'removed-service' };
    assert.equal((await answer(podReview({ operation: 'UPDATE', annotations: gone, oldAnnotations: gone }))).body.response?.allowed, true);
    assert.equal((await answer(podReview({ operation: 'UPDATE', annotations: gone, oldAnnotations: {} }))).body.response?.allowed, false);
  });

  it('refuses with PODIAM_BUNDLE_NOT_FOUND and says how to publish when no bundle has been published yet', async () => {
    const config: AdmissionConfig = { ...h.config, bundleKey: 'never-published.json', webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 30000 };
    const unpublished = createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config, accountId: h.deps.accountId, log: h.deps.log });
    const res = (await unpublished(urlEvent(podReview({ annotations: { 'iam.amazonaws.com/role': 'reader' } })))) as { statusCode: number; body: string };
    const body = JSON.parse(res.body) as { response?: { allowed: boolean; status?: { message: string; code: number } } };
    assert.equal(res.statusCode, 200);
    assert.equal(body.response?.allowed, false);
    assert.match(body.response!.status!.message, /^PODIAM_BUNDLE_NOT_FOUND: .*podiam publish --bucket/);
    assert.equal(h.calls.writes(), 0);
  });

  it('decides a namespace by its annotations alone, with no bundle published and S3 not answering', async () => {
    // S3 here is a loopback listener that accepts and never answers (a hung S3); the bundle key was
    // never published either. A namespace review must not wait for, or fail on, the bundle.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hungS3 = new S3Client({ endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, forcePathStyle: true, maxAttempts: 1 });
    try {
      const config: AdmissionConfig = { ...h.config, bundleKey: 'never-published.json', webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 1000, bundleCacheMs: 30000 };
      const noBundle = createAdmissionHandler({ iam: h.deps.iam, s3: hungS3, config, accountId: h.deps.accountId, log: h.deps.log });
      const ask = async (annotations: Record<string, string>) => {
        const res = (await noBundle(urlEvent(namespaceReview(annotations)))) as { statusCode: number; body: string };
        return { status: res.statusCode, body: JSON.parse(res.body) as { response?: { allowed: boolean; status?: { message: string } } } };
      };

      const hostile = await ask({ 'iam.amazonaws.com/permitted': '(a)\\1' });
      const valid = await ask({ 'iam.amazonaws.com/permitted': 'arn:aws:iam::\\d{12}:role/legacy/.*' });

      assert.equal(hostile.status, 200);
      assert.equal(hostile.body.response?.allowed, false);
      assert.match(hostile.body.response!.status!.message, /^PODIAM_NAMESPACE_ANNOTATION_INVALID: namespace team-a: iam\.amazonaws\.com\/permitted .*backreference/i);
      assert.equal(valid.status, 200);
      assert.equal(valid.body.response?.allowed, true);
      assert.equal(h.calls.total(), 0, 'a namespace review called IAM');
    } finally {
      hungS3.destroy();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('answers 400 to a malformed review', async () => {
    for (const bad of ['not json', '{}', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: { kind: 'Pod' }, operation: 'CREATE', object: {} } })]) {
      const { status, body } = await answer(bad);
      assert.equal(status, 400, bad);
      assert.equal(body.code, 'PODIAM_ADMISSION_REVIEW_INVALID');
    }
  });

  it('answers 403 to a wrong or missing secret, and never echoes it', async () => {
    for (const secret of ['wrong', '', `${WEBHOOK_SECRET}x`, WEBHOOK_SECRET.slice(0, -1)]) {
      const { status, body } = await answer(podReview({ annotations: { 'iam.amazonaws.com/role': 'writer' } }), secret);
      assert.equal(status, 403);
      assert.equal(body.code, 'PODIAM_WEBHOOK_SECRET_INVALID');
      assert.ok(!JSON.stringify(body).includes(WEBHOOK_SECRET.slice(0, 12)));
    }
    assert.equal(h.calls.total(), 0);
  });
});
