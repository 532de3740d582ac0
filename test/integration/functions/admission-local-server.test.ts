import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { podReview, WEBHOOK_SECRET } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';
import { selfSignedLoopbackCert, type TestCert } from './tls.ts';

let h: Harness;
let server: LocalAdmissionServer;
let tls: TestCert;

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf([service('orders', 'reader')]));
  await reconcile(h.deps, { trigger: 'setup' });
  tls = selfSignedLoopbackCert();
  server = await startLocalAdmissionServer({ ...tls, env: { ...h.env, PODIAM_WEBHOOK_SECRET: WEBHOOK_SECRET }, log: () => {} });
});
// Registered at once at top level (inside a hook, after() would run when the hook ends).
after(async () => {
  await server?.stop();
  await h?.stop();
});

function post(url: string, body: string): Promise<{ status: number; type: string | undefined; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: tls.cert, headers: { 'content-type': 'application/json' }, timeout: 10000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('local admission server (HTTPS on loopback around the Lambda handler)', () => {
  it('gives the full webhook URL on 127.0.0.1 with the secret in its path', () => {
    assert.match(server.url, new RegExp(`^https://127\\.0\\.0\\.1:\\d+/admit/${WEBHOOK_SECRET}$`));
  });

  it('answers an AdmissionReview over TLS as the Function URL would', async () => {
    const res = await post(server.url, JSON.stringify(podReview({ annotations: { 'iam.amazonaws.com/role': 'reader' }, uid: 'tls-1' })));
    assert.equal(res.status, 200);
    assert.equal(res.type, 'application/json');
    assert.deepEqual(res.json, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'tls-1', allowed: true } });
  });

  it('denies over TLS with the missing file named', async () => {
    const res = await post(server.url, JSON.stringify(podReview({ annotations: { 'iam.amazonaws.com/role': 'nope' } })));
    assert.equal((res.json.response as { allowed: boolean }).allowed, false);
    assert.match(JSON.stringify(res.json), /policies\/orders\/nope\.json/);
  });

  it('answers 403 for a wrong secret', async () => {
    const res = await post(`${server.origin}/admit/wrong`, JSON.stringify(podReview({})));
    assert.equal(res.status, 403);
    assert.equal(res.json.code, 'PODIAM_WEBHOOK_SECRET_INVALID');
  });
});
