// Faults with real peers: the node's IMDS dies (passthrough fails fast, credentials already
// fetched are still served) and STS dies (cached credentials are served; a pod that has none gets
// a coded 503). Also: IMDSv2 can be required.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, podObject, TEST_ROLE_ARNS, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';

describe('when the peers fail', () => {
  let peers: Peers;
  let proxy: RunningProxy;

  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } } });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll([podObject('early', 'orders', '127.0.0.1', { 'iam.amazonaws.com/role': 'reader' }), podObject('late', 'orders', '127.0.0.2', { 'iam.amazonaws.com/role': 'writer' })]);
    proxy = await startProxy(
      testConfig({
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
        PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_PREFETCH: 'false',
        PODIAM_REQUIRE_IMDSV2: 'true',
      }),
      { indexes: { pods, namespaces }, cacheTiming: { retryDeadlineMs: 1000 } },
    );
    await proxy.ready;
  });

  async function token(from = '127.0.0.1'): Promise<string> {
    return (await call(proxy.port, '/latest/api/token', { method: 'PUT', from, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '300' } })).body;
  }

  it('refuses a request without a token when IMDSv2 is required', async () => {
    const r = await call(proxy.port, CREDS);
    assert.equal(r.status, 401);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_IMDS_TOKEN_REQUIRED');
  });

  it('keeps serving cached credentials when the node\'s IMDS is down, and fails passthrough fast', async () => {
    const t = await token();
    const first = await call(proxy.port, `${CREDS}test.orders.reader`, { headers: { 'x-aws-ec2-metadata-token': t } });
    assert.equal(first.status, 200);
    await peers.imds!.stop();
    const pass = await call(proxy.port, '/latest/meta-data/instance-id', { headers: { 'x-aws-ec2-metadata-token': t }, timeoutMs: 3000 });
    assert.ok(pass.status === 502 || pass.status === 504, String(pass.status));
    assert.match((JSON.parse(pass.body) as { code: string }).code, /^PODIAM_UPSTREAM_(UNAVAILABLE|TIMEOUT)$/);
    const again = await call(proxy.port, `${CREDS}test.orders.reader`, { headers: { 'x-aws-ec2-metadata-token': t } });
    assert.equal(again.status, 200);
    assert.equal((JSON.parse(again.body) as { AccessKeyId: string }).AccessKeyId, (JSON.parse(first.body) as { AccessKeyId: string }).AccessKeyId);
  });

  it('serves cached credentials while STS is down and answers a pod without any with a coded 503', async () => {
    await peers.moto!.stop();
    const t1 = await token();
    const cached = await call(proxy.port, `${CREDS}test.orders.reader`, { headers: { 'x-aws-ec2-metadata-token': t1 } });
    assert.equal(cached.status, 200);
    const t2 = await token('127.0.0.2');
    const none = await call(proxy.port, `${CREDS}test.orders.writer`, { from: '127.0.0.2', headers: { 'x-aws-ec2-metadata-token': t2 } });
    assert.equal(none.status, 503);
    assert.match((JSON.parse(none.body) as { code: string }).code, /^PODIAM_(STS_FAILED|CREDENTIALS_PENDING)$/);
    assert.ok(!none.body.includes('ECONNREFUSED'), 'internals must not reach the pod');
  });
});
