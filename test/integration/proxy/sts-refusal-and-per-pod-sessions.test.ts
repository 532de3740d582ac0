// Regressions (issue 11, items 7 and 8), against moto with IAM enforcement on (its patch enforces
// sts:ExternalId in trust policies) through the proxy's real STS gateway and listener:
//  - a permanent refusal (wrong external ID) was answered as "pending" for 30 s, and each SDK
//    retry started a new loop of AssumeRole calls;
//  - keying the credential cache by role alone (two pods of one role sharing a session) passed
//    every test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { managedRoleArn, managedRoleName, managedRolePath } from '../../../core/src/naming.ts';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { StsGateway } from '../../../proxy/src/sts/gateway.ts';
import { call, podObject, testConfig } from './helpers.ts';

const CREDS = '/latest/meta-data/iam/security-credentials/';
const ACCOUNT = '123456789012';

describe('STS refusals and per-pod sessions, against moto with IAM enforcement', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  let gateway: StsGateway;

  before(async () => {
    peers = await startPeers({ moto: { enforceIam: true } });
    const moto = peers.moto!;
    const iam = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    // The proxy assumes roles as moto's admin user; each trust names it and requires an external ID.
    for (const service of ['reader', 'writer']) {
      const ref = { cluster: 'test', namespace: 'orders', service };
      const trust = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['sts:AssumeRole', 'sts:TagSession'], Condition: { StringEquals: { 'sts:ExternalId': 'right-id' } } }],
      };
      await iam.send(new CreateRoleCommand({ Path: managedRolePath('test'), RoleName: managedRoleName(ref), AssumeRolePolicyDocument: JSON.stringify(trust) }));
    }
    iam.destroy();
    gateway = new StsGateway({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll([
      podObject('wrong-id', 'orders', '127.0.0.61', { 'iam.amazonaws.com/role': 'reader', 'iam.amazonaws.com/external-id': 'wrong-id' }),
      podObject('one', 'orders', '127.0.0.62', { 'iam.amazonaws.com/role': 'writer', 'iam.amazonaws.com/external-id': 'right-id' }),
      podObject('two', 'orders', '127.0.0.63', { 'iam.amazonaws.com/role': 'writer', 'iam.amazonaws.com/external-id': 'right-id' }),
    ]);
    proxy = await startProxy(
      testConfig({ PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: ACCOUNT, PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9', PODIAM_PREFETCH: 'false' }),
      { indexes: { pods, namespaces }, credentialSource: gateway },
    );
    await proxy.ready;
  });

  after(async () => {
    await proxy?.stop();
    gateway?.destroy();
    await peers?.stop();
  });

  async function stsCalls(): Promise<number> {
    return (await proxy.metrics.stsCalls.get()).values.reduce((n, v) => n + v.value, 0);
  }

  it("answers a wrong external ID with PODIAM_STS_FAILED naming STS's AccessDenied, and the SDK's retries add no AssumeRole calls", async () => {
    const role = managedRoleName({ cluster: 'test', namespace: 'orders', service: 'reader' });
    const answers: Array<{ status: number; code: string; message: string }> = [];
    // Like an SDK that retries: ten requests, 300 ms apart.
    for (let i = 0; i < 10; i++) {
      const r = await call(proxy.port, `${CREDS}${role}`, { from: '127.0.0.61' });
      answers.push({ status: r.status, ...(JSON.parse(r.body) as { code: string; message: string }) });
      await new Promise((res) => setTimeout(res, 300));
    }
    for (const a of answers) {
      assert.equal(a.status, 503);
      assert.equal(a.code, 'PODIAM_STS_FAILED', a.message);
      assert.match(a.message, /AccessDenied/);
      assert.match(a.message, new RegExp(managedRoleArn({ accountId: ACCOUNT }, { cluster: 'test', namespace: 'orders', service: 'reader' }).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    }
    const calls = await stsCalls();
    // One short retry loop (about 8 s of backoff at most), not one per request: at most 7 calls.
    assert.ok(calls >= 1 && calls <= 7, `${calls} AssumeRole calls for 10 requests over 3 s`);
  });

  it('gives two pods of one role two sessions of their own, each named for its pod', async () => {
    const role = managedRoleName({ cluster: 'test', namespace: 'orders', service: 'writer' });
    const one = await call(proxy.port, `${CREDS}${role}`, { from: '127.0.0.62' });
    const two = await call(proxy.port, `${CREDS}${role}`, { from: '127.0.0.63' });
    assert.equal(one.status, 200, one.body);
    assert.equal(two.status, 200, two.body);
    const c1 = JSON.parse(one.body) as { AccessKeyId: string; SecretAccessKey: string; Token: string };
    const c2 = JSON.parse(two.body) as { AccessKeyId: string; SecretAccessKey: string; Token: string };
    assert.notEqual(c1.AccessKeyId, c2.AccessKeyId);
    const whoAmI = async (c: typeof c1): Promise<string> => {
      const sts = new STSClient({ endpoint: peers.moto!.endpoint, region: 'us-east-1', credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token } });
      try {
        return (await sts.send(new GetCallerIdentityCommand({}))).Arn!;
      } finally {
        sts.destroy();
      }
    };
    const [arn1, arn2] = [await whoAmI(c1), await whoAmI(c2)];
    assert.match(arn1, new RegExp(`:assumed-role/${role.replace(/[.]/g, '\\.')}/.*one`));
    assert.match(arn2, new RegExp(`:assumed-role/${role.replace(/[.]/g, '\\.')}/.*two`));
  });
});
