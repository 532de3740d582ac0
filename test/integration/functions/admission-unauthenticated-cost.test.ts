// Issue 11 item 14: what anyone who can reach the admission Function URL (public, AuthType NONE)
// can make it spend before the secret is checked. The handler trimmed trailing slashes of the raw
// path with a backtracking regex before comparing the secret (50,000 slashes: seconds of CPU per
// request), and the local server answered an oversized body with a connection reset.
// Drives the real handler and the real local HTTPS server, moto behind them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { createAdmissionHandler, MAX_ADMIT_PATH_LENGTH } from '../../../functions/admission/handler.ts';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { podReview, urlEvent, WEBHOOK_SECRET, WEBHOOK_SECRET_SHA256 } from './admission-events.ts';
import { startHarness, type Harness } from './harness.ts';
import { selfSignedLoopbackCert, type TestCert } from './tls.ts';

let h: Harness;
let server: LocalAdmissionServer;
let tls: TestCert;

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf([service('orders', 'reader')]));
  tls = selfSignedLoopbackCert();
  server = await startLocalAdmissionServer({ ...tls, env: { ...h.env, PODIAM_WEBHOOK_SECRET: WEBHOOK_SECRET }, log: () => {} });
});
after(async () => {
  await server?.stop();
  await h?.stop();
});

const handler = () =>
  createAdmissionHandler({ iam: h.deps.iam, s3: h.deps.s3, config: { ...h.config, webhookSecretSha256: WEBHOOK_SECRET_SHA256, budgetMs: 4500, bundleCacheMs: 30_000 }, accountId: h.deps.accountId, log: () => {} });

async function answer(rawPath: string) {
  const event = urlEvent(podReview({ annotations: {} }));
  event.rawPath = rawPath;
  event.requestContext.http.path = rawPath;
  const started = process.hrtime.bigint();
  const res = (await handler()(event)) as { statusCode: number; body: string };
  return { status: res.statusCode, json: JSON.parse(res.body) as Record<string, unknown>, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

function post(url: string, body: Buffer): Promise<{ status: number; type: string | undefined; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: tls.cert, headers: { 'content-type': 'application/json', 'content-length': body.length }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('the admission URL bounds what an unauthenticated caller can make it do', () => {
  it('answers a path of 50,000 slashes with 414 PODIAM_REQUEST_TOO_LARGE, before looking at the secret', async () => {
    const res = await answer(`/admit/${'/'.repeat(50_000)}x`);
    // Recorded, not asserted: speed belongs to benchmarks.
    console.log(`# 50,000-slash path answered ${res.status} in ${res.ms.toFixed(1)} ms`);
    assert.equal(res.status, 414);
    assert.equal(res.json.code, 'PODIAM_REQUEST_TOO_LARGE');
  });

  it('answers the right secret followed by 50,000 slashes with 414 too: the bound comes before the trim', async () => {
    const res = await answer(`/admit/${WEBHOOK_SECRET}${'/'.repeat(50_000)}`);
    assert.equal(res.status, 414);
    assert.equal(res.json.code, 'PODIAM_REQUEST_TOO_LARGE');
  });

  it('still accepts the secret with trailing slashes within the bound', async () => {
    const path = `/admit/${WEBHOOK_SECRET}${'/'.repeat(MAX_ADMIT_PATH_LENGTH - '/admit/'.length - WEBHOOK_SECRET.length)}`;
    assert.equal(path.length, MAX_ADMIT_PATH_LENGTH);
    const res = await answer(path);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal((res.json.response as { allowed: boolean }).allowed, true);
  });

  it('refuses a wrong secret within the bound with 403, slashes inside it or not', async () => {
    for (const path of [`/admit/${'/'.repeat(400)}x`, `/admit/${WEBHOOK_SECRET}x//`, `/admit/${WEBHOOK_SECRET.slice(0, -1)}`]) {
      const res = await answer(path);
      assert.equal(res.status, 403, path.slice(0, 60));
      assert.equal(res.json.code, 'PODIAM_WEBHOOK_SECRET_INVALID');
    }
  });

  it('answers a 10 MB body with 413 JSON PODIAM_REQUEST_TOO_LARGE on the local server, not a reset', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024, 0x20);

    const res = await post(server.url, body);

    assert.equal(res.status, 413);
    assert.equal(res.type, 'application/json');
    assert.equal(res.json.code, 'PODIAM_REQUEST_TOO_LARGE');
    assert.match(String(res.json.message), /over 6291456 bytes/);
  });

  it('still answers a review of normal size after the oversized one', async () => {
    const res = await post(server.url, Buffer.from(JSON.stringify(podReview({ annotations: {}, uid: 'after-413' }))));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'after-413', allowed: true } });
  });
});
