// The mutating webhook's path (/mutate/<secret>) on the admission function, through the local HTTPS
// server around the real handler: the same secret check as /admit/, before anything else, and an
// answer that needs no bundle, S3 or IAM (the AWS endpoint here is a closed port).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';
import { TOKEN_IDENTITY_ANNOTATION } from '../../../core/src/annotations.ts';
import { podReview, WEBHOOK_SECRET } from './admission-events.ts';
import { selfSignedLoopbackCert, type TestCert } from './tls.ts';

let server: LocalAdmissionServer;
let tls: TestCert;
const logged: Array<{ message: string; fields: Record<string, unknown> | undefined }> = [];

before(async () => {
  tls = selfSignedLoopbackCert();
  server = await startLocalAdmissionServer({
    ...tls,
    env: {
      PODIAM_CLUSTER_NAME: 'prod',
      PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy',
      PODIAM_BUNDLE_BUCKET: 'bucket',
      PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT,
      PODIAM_ACCOUNT_ID: '123456789012',
      // Nothing listens on the discard port: any S3, IAM or STS call would fail.
      PODIAM_AWS_ENDPOINT: 'http://127.0.0.1:9',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      PODIAM_TOKEN_AUDIENCE: 'podiam-test',
      PODIAM_TOKEN_EXPIRATION_SECONDS: '900',
      PODIAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
    },
    log: (_level, message, fields) => logged.push({ message, fields }),
  });
});
after(async () => {
  await server?.stop();
});

function post(url: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: tls.cert, headers: { 'content-type': 'application/json' }, timeout: 10000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A pod review as the API server sends it, its ServiceAccount admission plugin having set serviceAccountName. */
function mutateReview(annotations: Record<string, string>, uid: string): string {
  const body = podReview({ annotations, uid }) as { request: { object: { spec: Record<string, unknown> } } };
  body.request.object.spec.serviceAccountName = 'default';
  return JSON.stringify(body);
}

interface Answer {
  response: { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] };
}

describe('the admission function at /mutate/<secret>', () => {
  it('gives the mutating URL beside the validating one, with the same secret', () => {
    assert.equal(server.mutateUrl, server.url.replace('/admit/', '/mutate/'));
  });

  it('answers 403 for a wrong secret on /mutate/, without reading the review', async () => {
    const res = await post(`${server.origin}/mutate/wrong-0123456789abcdef0123456789abcdef`, 'not even JSON');
    assert.equal(res.status, 403);
    assert.equal(res.json.code, 'PODIAM_WEBHOOK_SECRET_INVALID');
  });

  it('answers 403 for the validating secret under another prefix', async () => {
    const res = await post(`${server.origin}/other/${WEBHOOK_SECRET}`, JSON.stringify(podReview({})));
    assert.equal(res.status, 403);
  });

  it('patches an opted-in pod with the configured audience and lifetime, with no AWS call', async () => {
    const res = await post(server.mutateUrl, mutateReview({ [TOKEN_IDENTITY_ANNOTATION]: 'true' }, 'm-1'));

    assert.equal(res.status, 200);
    const answer = res.json as unknown as Answer;
    assert.equal(answer.response.uid, 'm-1');
    assert.equal(answer.response.allowed, true);
    assert.equal(answer.response.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(answer.response.patch!, 'base64').toString('utf8')) as Array<{ path: string; value: unknown }>;
    assert.deepEqual(patch[0], { op: 'add', path: '/spec/volumes', value: [{ name: 'podiam-token', projected: { sources: [{ serviceAccountToken: { audience: 'podiam-test', expirationSeconds: 900, path: 'token' } }] } }] });
  });

  it('allows an opted-out pod unchanged', async () => {
    const res = await post(server.mutateUrl, mutateReview({ [TOKEN_IDENTITY_ANNOTATION]: 'false' }, 'm-2'));
    assert.deepEqual(res.json, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'm-2', allowed: true } });
  });

  it('never logs the path, which holds the secret', () => {
    assert.ok(logged.length > 0);
    assert.doesNotMatch(JSON.stringify(logged), new RegExp(WEBHOOK_SECRET));
  });
});
