// The proxy through a real listener, with real peers: the metadata mock as the node's IMDS (the
// proxy's own credentials come from it with IMDSv2), moto as STS, and the unmodified AWS SDK v3
// and botocore as clients. The pod index is the real one, fed here instead of by an API server
// (test/integration/proxy/kube-index.test.ts covers the watch).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startPeers, tools, toolEnv, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import type { Denial } from '../../../proxy/src/k8s/events.ts';
import { call, podObject, raw, TEST_ROLE_ARNS, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';
const NODE_ROLE = 'podiam-test-node-role';
const NODE_KEY = 'ASIANODEKEYEXAMPLE00';

describe('the metadata protocol as the AWS SDKs speak it', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  const denials: Array<{ pod: string; denial: Denial }> = [];

  // Registered before anything starts, so a failure half-way still cleans up.
  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: NODE_ROLE, credentials: { AccessKeyId: NODE_KEY } }, values: { 'instance-id': 'i-0podiamtest000001' } } });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([{ metadata: { name: 'orders' } }, { metadata: { name: 'billing' } }]);
    pods.replaceAll([
      podObject('pod-a', 'orders', '127.0.0.1', { 'iam.amazonaws.com/role': 'reader' }),
      podObject('pod-b', 'billing', '127.0.0.2', { 'iam.amazonaws.com/role': 'writer' }),
      podObject('plain', 'orders', '127.0.0.3'),
      podObject('sneaky', 'orders', '127.0.0.4', { 'iam.amazonaws.com/role': 'arn:aws:iam::123456789012:role/podiam/test/test.billing.writer' }),
      podObject('twin-1', 'orders', '127.0.0.5', { 'iam.amazonaws.com/role': 'reader' }),
      podObject('twin-2', 'orders', '127.0.0.5', { 'iam.amazonaws.com/role': 'reader' }),
    ]);
    proxy = await startProxy(
      testConfig({ PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_PREFETCH: 'false' }),
      {
        indexes: { pods, namespaces },
        denials: { denied: async (pod, denial) => void denials.push({ pod: `${pod.namespace}/${pod.name}`, denial }) },
      },
    );
    await proxy.ready;
  });

  it('gives the AWS SDK v3 the pod\'s own role, which moto\'s GetCallerIdentity names', async () => {
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = `http://127.0.0.1:${proxy.port}`;
    const creds = await fromInstanceMetadata({ timeout: 1000, maxRetries: 0 })();
    assert.match(creds.accessKeyId, /^\S+$/);
    assert.notEqual(creds.accessKeyId, NODE_KEY);
    assert.ok(creds.expiration && creds.expiration.getTime() - Date.now() >= 20 * 60_000);
    const sts = new STSClient({ region: 'us-east-1', endpoint: peers.moto!.endpoint, credentials: creds });
    after(() => sts.destroy());
    const me = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, 'arn:aws:sts::123456789012:assumed-role/test.orders.reader/orders.pod-a');
  });

  it('gives botocore the pod\'s own role too', async (t) => {
    if (!existsSync(tools.python)) return t.skip('PODIAM_SKIP: needs the peers virtualenv with botocore (scripts/peers/install.sh installs it)');
    const script = [
      'import botocore.session, json, sys',
      's = botocore.session.get_session()',
      'c = s.get_credentials()',
      'assert c is not None and c.method == "iam-role", c and c.method',
      'sts = s.create_client("sts", region_name="us-east-1", endpoint_url=sys.argv[1])',
      'print(json.dumps({"arn": sts.get_caller_identity()["Arn"], "key": c.get_frozen_credentials().access_key}))',
    ].join('\n');
    const env = toolEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${proxy.port}/`, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
    // toolEnv switches IMDS off for tools; here it is the point. (Async: the proxy runs in this process.)
    env.AWS_EC2_METADATA_DISABLED = 'false';
    const r = await promisify(execFile)(tools.python, ['-c', script, peers.moto!.endpoint], { env, encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(r.stdout) as { arn: string; key: string };
    assert.equal(out.arn, 'arn:aws:sts::123456789012:assumed-role/test.orders.reader/orders.pod-a');
    assert.notEqual(out.key, NODE_KEY);
  });

  it('answers IMDS\'s JSON shape and time format', async () => {
    const name = await call(proxy.port, CREDS);
    assert.equal(name.status, 200);
    assert.equal(name.body, 'test.orders.reader');
    const r = await call(proxy.port, `${CREDS}test.orders.reader`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    const doc = JSON.parse(r.body) as Record<string, string>;
    assert.deepEqual(Object.keys(doc), ['Code', 'LastUpdated', 'Type', 'AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']);
    assert.equal(doc.Code, 'Success');
    assert.equal(doc.Type, 'AWS-HMAC');
    assert.match(doc.Expiration!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(doc.LastUpdated!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const info = JSON.parse((await call(proxy.port, '/latest/meta-data/iam/info')).body) as Record<string, string>;
    assert.equal(info.InstanceProfileArn, 'arn:aws:iam::123456789012:instance-profile/podiam/test/test.orders.reader');
    assert.match(info.InstanceProfileId!, /^AIPA[A-Z2-7]{17}$/);
  });

  it('gives a second pod its own role and refuses it the first pod\'s', async () => {
    assert.equal((await call(proxy.port, CREDS, { from: '127.0.0.2' })).body, 'test.billing.writer');
    const own = JSON.parse((await call(proxy.port, `${CREDS}test.billing.writer`, { from: '127.0.0.2' })).body) as Record<string, string>;
    const a = JSON.parse((await call(proxy.port, `${CREDS}test.orders.reader`)).body) as Record<string, string>;
    assert.notEqual(own.AccessKeyId, a.AccessKeyId);
    const other = await call(proxy.port, `${CREDS}test.orders.reader`, { from: '127.0.0.2' });
    assert.equal(other.status, 403);
    assert.equal((JSON.parse(other.body) as { code: string }).code, 'PODIAM_ROLE_NAME_MISMATCH');
  });

  it('never serves the node role\'s credentials', async () => {
    const r = await call(proxy.port, `${CREDS}${NODE_ROLE}`);
    assert.equal(r.status, 403);
    assert.ok(!r.body.includes(NODE_KEY));
    for (const p of ['/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', '/latest/user-data']) {
      const x = await call(proxy.port, p);
      assert.equal(x.status, 403, p);
      assert.equal((JSON.parse(x.body) as { code: string }).code, 'PODIAM_PATH_NOT_ALLOWED');
    }
  });

  it('answers 404 to a pod without a role and to an address it does not know', async () => {
    const none = await call(proxy.port, CREDS, { from: '127.0.0.3' });
    assert.equal(none.status, 404);
    assert.equal((JSON.parse(none.body) as { code: string }).code, 'PODIAM_NO_ROLE');
    const unknown = await call(proxy.port, CREDS, { from: '127.0.0.9' });
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.body) as { code: string }).code, 'PODIAM_POD_UNKNOWN');
  });

  it('denies another namespace\'s managed role with 403, a code, and a reported denial', async () => {
    const r = await call(proxy.port, CREDS, { from: '127.0.0.4' });
    assert.equal(r.status, 403);
    const body = JSON.parse(r.body) as { code: string; message: string };
    assert.equal(body.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
    assert.match(body.message, /does not belong to namespace orders/);
    assert.ok(denials.some((d) => d.pod === 'orders/sneaky' && d.denial.code === 'PODIAM_ROLE_OF_OTHER_NAMESPACE'));
  });

  it('answers neither of two pods that claim one IP', async () => {
    const r = await call(proxy.port, CREDS, { from: '127.0.0.5' });
    assert.equal(r.status, 409);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PODIAM_POD_IP_CONFLICT');
  });

  it('issues IMDSv2 tokens bound to the caller and checks them on every route', async () => {
    const put = await call(proxy.port, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } });
    assert.equal(put.status, 200);
    assert.equal(put.headers['x-aws-ec2-metadata-token-ttl-seconds'], '60');
    const token = put.body;
    assert.equal((await call(proxy.port, CREDS, { headers: { 'x-aws-ec2-metadata-token': token } })).status, 200);
    const stolen = await call(proxy.port, CREDS, { from: '127.0.0.2', headers: { 'x-aws-ec2-metadata-token': token } });
    assert.equal(stolen.status, 401);
    assert.equal((await call(proxy.port, '/latest/meta-data/instance-id', { headers: { 'x-aws-ec2-metadata-token': 'forged' } })).status, 401);
    assert.equal((await call(proxy.port, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21601' } })).status, 400);
    assert.equal((await call(proxy.port, '/latest/api/token', { method: 'PUT' })).status, 400);
    const fwd = await call(proxy.port, '/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60', 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(fwd.status, 403);
    assert.equal((await call(proxy.port, '/latest/api/token')).status, 405);
  });

  it('passes allowlisted paths to the node\'s IMDS with its own token', async () => {
    const r = await call(proxy.port, '/latest/meta-data/instance-id');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'i-0podiamtest000001');
  });

  it('refuses path tricks before they reach any blocked path', async () => {
    const tricks = [
      '/latest/meta-data/instance-id/../../user-data',
      '/latest/meta-data/%2e%2e/%2e%2e/user-data',
      '/latest/meta-data/placement/..%2f..%2fuser-data',
      '/latest//user-data',
      '/latest/meta-data/instance-id;/../../user-data',
      '/latest/meta-data/instance-id?/../../user-data',
      '/latest/meta-data/instance-idjunk',
      '/latest/meta-data/iam/security-credentials/test.orders.reader/../' + NODE_ROLE,
    ];
    for (const t of tricks) {
      const { text } = await raw(proxy.port, `GET ${t} HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n`);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      assert.ok(status === 400 || status === 403, `${t} → ${status}`);
      assert.ok(!text.includes(NODE_KEY) && !text.includes('i-0podiamtest000001'), t);
    }
  });

  it('answers malformed HTTP with 400 and oversized headers with 431', async () => {
    const bad = await raw(proxy.port, 'GARBAGE\r\n\r\n');
    assert.match(bad.text, /^HTTP\/1\.1 400/);
    const big = await raw(proxy.port, `GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431/);
  });

  it('closes the connection of a client that never finishes its headers', async () => {
    const slow = await raw(proxy.port, 'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n', { keepOpen: true, timeoutMs: 10_000 });
    assert.equal(slow.closedByServer, true);
  });

  it('exports Prometheus metrics on the separate port', async () => {
    const m = await call(proxy.metricsPort!, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /podiam_proxy_sts_assume_role_calls_total [1-9]/);
    assert.match(m.body, /podiam_proxy_credential_cache_hits_total [1-9]/);
    assert.match(m.body, /podiam_proxy_request_duration_seconds_bucket/);
    assert.equal((await call(proxy.metricsPort!, '/readyz')).status, 200);
  });
});
