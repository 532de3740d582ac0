// Held-out attack (issue 11): a pod replays an IMDSv2 token that another pod obtained (read from a
// shared volume, a log, a core dump). Tokens are bound to the source IP they were issued to, so
// the replaying pod is refused, whatever it asks for. Drives the real listener (startProxy, IMDSv2
// required as shipped) over loopback, each pod a loopback source address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, podObject, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';
const A = '127.0.0.91';
const B = '127.0.0.92';

describe('an IMDSv2 token replayed from another pod', () => {
  let proxy: RunningProxy;

  before(async () => {
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll([podObject('a', 'orders', A, { 'iam.amazonaws.com/role': 'reader' }), podObject('b', 'orders', B, { 'iam.amazonaws.com/role': 'writer' })]);
    proxy = await startProxy(
      testConfig({
        PODIAM_REQUIRE_IMDSV2: 'true',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9',
        PODIAM_PREFETCH: 'false',
      }),
      { indexes: { pods, namespaces } },
    );
    await proxy.ready;
  });

  after(async () => {
    await proxy?.stop();
  });

  async function tokenFor(ip: string): Promise<string> {
    const answer = await call(proxy.port, '/latest/api/token', { method: 'PUT', from: ip, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
    assert.equal(answer.status, 200);
    return answer.body;
  }

  it("is refused with PODIAM_IMDS_TOKEN_INVALID, for the role listing and for either pod's credentials", async () => {
    const tokenOfA = await tokenFor(A);
    // The same token works from the pod it was issued to: the refusal below is about the replay.
    const own = await call(proxy.port, CREDS, { from: A, headers: { 'x-aws-ec2-metadata-token': tokenOfA } });
    assert.equal(own.status, 200);
    assert.equal(own.body, 'test.orders.reader');
    for (const path of [CREDS, `${CREDS}test.orders.reader`, `${CREDS}test.orders.writer`, '/latest/meta-data/iam/info']) {
      const replayed = await call(proxy.port, path, { from: B, headers: { 'x-aws-ec2-metadata-token': tokenOfA } });
      assert.equal(replayed.status, 401, path);
      assert.equal((JSON.parse(replayed.body) as { code: string }).code, 'PODIAM_IMDS_TOKEN_INVALID', path);
      assert.doesNotMatch(replayed.body, /AccessKeyId|test\.orders/, path);
    }
  });

  it('is refused when it comes with the issuing pod\'s address in X-Forwarded-For', async () => {
    const tokenOfA = await tokenFor(A);
    const replayed = await call(proxy.port, CREDS, { from: B, headers: { 'x-aws-ec2-metadata-token': tokenOfA, 'x-forwarded-for': A } });
    assert.equal(replayed.status, 401);
    assert.doesNotMatch(replayed.body, /test\.orders/);
  });

  it('is refused when the replaying pod sends its own token too, in either order', async () => {
    const tokenOfA = await tokenFor(A);
    const tokenOfB = await tokenFor(B);
    for (const pair of [`${tokenOfA}, ${tokenOfB}`, `${tokenOfB}, ${tokenOfA}`]) {
      // node:http joins a repeated header with ', ': the joined value is no token of anyone's.
      const answer = await call(proxy.port, `${CREDS}test.orders.reader`, { from: B, headers: { 'x-aws-ec2-metadata-token': pair } });
      assert.equal(answer.status, 401);
    }
  });
});
