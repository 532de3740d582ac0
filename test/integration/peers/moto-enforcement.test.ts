// moto as an STS/IAM peer that refuses what AWS refuses where podiam's controls depend on it:
// the patch in test/peers/moto-patch/sitecustomize.py, loaded by every moto the tests and the
// demo start. Each test drives the real moto server (IAM enforcement on) through the AWS SDK v3,
// with podiam's own trust and revocation policies (iam-model/src/trust.ts) and the node proxy's
// own AssumeRole call (proxy/src/sts/gateway.ts), and fails when its piece of the patch is removed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { managedRoleArnPattern, managedRolePath } from '../../../core/src/naming.ts';
import { intermediateRolePolicy, revokeOlderSessionsPolicy, REVOKE_POLICY_NAME, serviceRoleTrustPolicy, type TrustSettings } from '../../../iam-model/src/trust.ts';
import { StsGateway } from '../../../proxy/src/sts/gateway.ts';
import type { AssumeRequest } from '../../../proxy/src/sts/types.ts';
import { startMoto, type MotoCredentials, type MotoPeer } from '../../peers/index.ts';

const CLUSTER = 'enf';
const NAMESPACE_TAG = 'kubernetes-namespace';
const ordersTag = [{ Key: NAMESPACE_TAG, Value: 'orders' }];

interface SessionCredentials extends MotoCredentials {
  sessionToken: string;
}

function isAccessDenied(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  assert.equal(e.name, 'AccessDenied', `expected AccessDenied, got ${e.name}: ${e.message}`);
  assert.match(e.message ?? '', /is not authorized to perform: sts:AssumeRole/);
  return true;
}

describe('moto (patched) enforces trust, conditions and session revocation as AWS does', () => {
  let moto: MotoPeer;
  let iam: IAMClient;
  let adminSts: STSClient;
  let nodeRoleArn: string;
  let node: SessionCredentials;
  let proxy: StsGateway;
  const clients: Array<{ destroy(): void }> = [];

  after(async () => {
    for (const c of clients) c.destroy();
    await moto?.stop();
  });

  const policy = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const account = { accountId: '123456789012' };

  /** A managed role of the test cluster, as reconcile would create it, with the given trust policy. */
  async function managedRole(name: string, trust: unknown): Promise<string> {
    const out = await iam.send(new CreateRoleCommand({ RoleName: name, Path: managedRolePath(CLUSTER), AssumeRolePolicyDocument: JSON.stringify(trust) }));
    return out.Role!.Arn!;
  }

  /** Trust settings as reconcile passes them; the namespace tag is always required. */
  function trustSettings(extra: { externalId?: string } = {}): TrustSettings {
    return { intermediateRoleArns: [nodeRoleArn], ...extra };
  }

  /** The node proxy's AssumeRole, as it sends it (session tags, external ID), from the node's session. */
  function assume(roleArn: string, extra: Partial<AssumeRequest> = {}) {
    return proxy.assume({ roleArn, sessionName: 'orders.reader-7d9c5', durationSeconds: 900, tags: [], ...extra });
  }

  async function callerArn(c: SessionCredentials): Promise<string | undefined> {
    const sts = new STSClient({ endpoint: moto.endpoint, region: moto.region, credentials: c, maxAttempts: 1 });
    clients.push(sts);
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn;
  }

  before(async () => {
    moto = await startMoto({ enforceIam: true });
    iam = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    adminSts = new STSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    clients.push(iam, adminSts);

    // The intermediate (node proxy) role: the account may assume it (EC2 would, in AWS), and its
    // own policy is the one reconcile writes: AssumeRole + TagSession on this cluster's roles only.
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: `${CLUSTER}-node-proxy`,
        Path: '/podiam-node/',
        AssumeRolePolicyDocument: policy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${moto.accountId}:root` }, Action: 'sts:AssumeRole' }]),
      }),
    );
    nodeRoleArn = role.Role!.Arn!;
    await iam.send(new PutRolePolicyCommand({ RoleName: `${CLUSTER}-node-proxy`, PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(intermediateRolePolicy(account, CLUSTER)) }));
    const s = await adminSts.send(new AssumeRoleCommand({ RoleArn: nodeRoleArn, RoleSessionName: 'i-0enforcement00001' }));
    node = { accessKeyId: s.Credentials!.AccessKeyId!, secretAccessKey: s.Credentials!.SecretAccessKey!, sessionToken: s.Credentials!.SessionToken! };
    proxy = new StsGateway({ region: moto.region, endpoint: moto.endpoint, credentials: node });
    clients.push(proxy);
  });

  describe('a role that does not exist', () => {
    it('refuses AssumeRole of a missing role with AccessDenied when IAM enforcement is on', async () => {
      const missing = managedRoleArnPattern(account, CLUSTER).replace('*', 'no-such-role');

      await assert.rejects(assume(missing), isAccessDenied);
    });

    it('refuses AssumeRole of a missing role with AccessDenied when IAM enforcement is off', async (t) => {
      await moto.setIamEnforcement(false);
      t.after(() => moto.setIamEnforcement(true));

      await assert.rejects(adminSts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${moto.accountId}:role/no-such-role`, RoleSessionName: 's' })), isAccessDenied);
    });
  });

  describe('sts:ExternalId in the trust policy', () => {
    let roleArn: string;
    before(async () => {
      roleArn = await managedRole('enf.orders.external', serviceRoleTrustPolicy(trustSettings({ externalId: 'ext-7a1c' }), 'orders'));
    });

    it('refuses AssumeRole without an external ID', async () => {
      await assert.rejects(assume(roleArn, { tags: ordersTag }), isAccessDenied);
    });

    it('refuses AssumeRole with the wrong external ID', async () => {
      await assert.rejects(assume(roleArn, { tags: ordersTag, externalId: 'ext-0000' }), isAccessDenied);
    });

    it('allows AssumeRole with the right external ID, as a session of that role', async () => {
      const c = await assume(roleArn, { tags: ordersTag, externalId: 'ext-7a1c' });

      assert.equal(await callerArn(c), `arn:aws:sts::${moto.accountId}:assumed-role/enf.orders.external/orders.reader-7d9c5`);
    });
  });

  describe('the namespace session tag (StringEquals aws:RequestTag/kubernetes-namespace)', () => {
    let roleArn: string;
    before(async () => {
      roleArn = await managedRole('enf.orders.reader', serviceRoleTrustPolicy(trustSettings(), 'orders'));
    });

    it("refuses AssumeRole tagged with another namespace", async () => {
      await assert.rejects(assume(roleArn, { tags: [{ Key: NAMESPACE_TAG, Value: 'dns' }] }), isAccessDenied);
    });

    it('refuses AssumeRole without the namespace tag', async () => {
      await assert.rejects(assume(roleArn), isAccessDenied);
    });

    it("allows AssumeRole tagged with the role's own namespace", async () => {
      const c = await assume(roleArn, { tags: [{ Key: NAMESPACE_TAG, Value: 'orders' }, { Key: 'kubernetes-pod-name', Value: 'reader-7d9c5' }] });

      assert.match((await callerArn(c)) ?? '', /:assumed-role\/enf\.orders\.reader\//);
    });
  });

  describe('sts:TagSession', () => {
    it('refuses tagged AssumeRole when the trust policy allows sts:AssumeRole but not sts:TagSession', async () => {
      const roleArn = await managedRole('enf.orders.notags', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: nodeRoleArn }, Action: 'sts:AssumeRole' }] });
      assert.ok(await assume(roleArn), 'the untagged call is allowed');

      await assert.rejects(assume(roleArn, { tags: [{ Key: NAMESPACE_TAG, Value: 'orders' }] }), isAccessDenied);
    });
  });

  describe("the caller's own policy", () => {
    it("refuses AssumeRole that the role's trust allows but the caller's identity policy does not (a role outside the cluster's path)", async () => {
      const out = await iam.send(
        new CreateRoleCommand({
          RoleName: 'enf-elsewhere',
          Path: '/other/',
          AssumeRolePolicyDocument: policy([{ Effect: 'Allow', Principal: { AWS: nodeRoleArn }, Action: 'sts:AssumeRole' }]),
        }),
      );

      await assert.rejects(assume(out.Role!.Arn!), isAccessDenied);
    });
  });

  describe('StringLike and ArnLike', () => {
    it('refuses a session name that does not match StringLike sts:RoleSessionName and allows one that does', async () => {
      const roleArn = await managedRole('enf.orders.like', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: nodeRoleArn }, Action: 'sts:AssumeRole', Condition: { StringLike: { 'sts:RoleSessionName': 'orders.*' } } }],
      });

      await assert.rejects(assume(roleArn, { sessionName: 'dns.updater-1' }), isAccessDenied);
      assert.match((await callerArn(await assume(roleArn, { sessionName: 'orders.reader-1' }))) ?? '', /\/orders\.reader-1$/);
    });

    it('refuses a caller whose aws:PrincipalArn does not match ArnLike and allows the node role', async () => {
      const roleArn = await managedRole('enf.orders.arnlike', {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${moto.accountId}:root` }, Action: 'sts:AssumeRole', Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${moto.accountId}:role/podiam-node/*` } } },
        ],
      });

      // The administrator is in the account (the principal matches) but is a user, not a node role.
      await assert.rejects(adminSts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'admin' })), isAccessDenied);
      assert.match((await callerArn(await assume(roleArn))) ?? '', /:assumed-role\/enf\.orders\.arnlike\//);
    });
  });

  describe('operators the peer does not know', () => {
    it('refuses AssumeRole when the trust Allow carries an unknown condition operator', async () => {
      // moto's CreateRole does not validate the trust policy (AWS would refuse it): the peer must fail closed.
      const roleArn = await managedRole('enf.orders.unknownop', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: nodeRoleArn }, Action: 'sts:AssumeRole', Condition: { StringEqualsMaybe: { 'sts:RoleSessionName': 'orders.reader-7d9c5' } } }],
      });

      await assert.rejects(assume(roleArn), isAccessDenied);
    });

    it('refuses AssumeRole when a trust Deny carries an unknown condition operator, even with an Allow beside it', async () => {
      const roleArn = await managedRole('enf.orders.unknowndeny', {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: nodeRoleArn }, Action: 'sts:AssumeRole' },
          { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { StringNotEqualsMaybe: { 'sts:RoleSessionName': 'x' } } },
        ],
      });

      await assert.rejects(assume(roleArn), isAccessDenied);
    });
  });

  describe('DynamoDB resources', () => {
    it("allows a table the session's policy names by ARN and refuses another table", async () => {
      const ddbAdmin = new DynamoDBClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
      clients.push(ddbAdmin);
      for (const TableName of ['enf-ledger', 'enf-other']) {
        await ddbAdmin.send(new CreateTableCommand({ TableName, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
      }
      const roleArn = await managedRole('enf.orders.ledger', serviceRoleTrustPolicy(trustSettings(), 'orders'));
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'enf.orders.ledger',
          PolicyName: 'podiam-service-policy',
          PolicyDocument: policy([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: `arn:aws:dynamodb:${moto.region}:${moto.accountId}:table/enf-ledger` }]),
        }),
      );
      const ddb = new DynamoDBClient({ endpoint: moto.endpoint, region: moto.region, credentials: await assume(roleArn, { tags: ordersTag }), maxAttempts: 1 });
      clients.push(ddb);
      const get = (TableName: string) => ddb.send(new GetItemCommand({ TableName, Key: { pk: { S: 'k' } } }));

      const allowed = await get('enf-ledger');

      assert.equal(allowed.$metadata.httpStatusCode, 200);
      // moto answers a DynamoDB refusal with an XML body the JSON client cannot parse: the status says it.
      await assert.rejects(get('enf-other'), (err: unknown) => {
        assert.equal((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 403);
        return true;
      });
    });
  });

  describe('session revocation (AWSRevokeOlderSessions: Deny * when aws:TokenIssueTime is before the cut)', () => {
    const bucket = 'enf-orders';
    let roleArn: string;
    let s3Of: (c: SessionCredentials) => S3Client;
    before(async () => {
      roleArn = await managedRole('enf.orders.revoked', serviceRoleTrustPolicy(trustSettings(), 'orders'));
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: 'enf.orders.revoked',
          PolicyName: 'podiam-service-policy',
          PolicyDocument: policy([{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }]),
        }),
      );
      const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 1 });
      clients.push(s3);
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'order.json', Body: '{"order":1}' }));
      s3Of = (c) => {
        const client = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: c, forcePathStyle: true, maxAttempts: 1 });
        clients.push(client);
        return client;
      };
    });

    const read = (s3: S3Client) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'order.json' })).then((r) => r.Body!.transformToString());
    const tags = ordersTag;
    /** Bounded: returns once the wall clock is past `t` (a few milliseconds at most). */
    async function passed(t: number): Promise<void> {
      for (let i = 0; i < 1000 && Date.now() <= t; i++) await new Promise((r) => setTimeout(r, 2));
      assert.ok(Date.now() > t, 'the clock moved past the cut');
    }

    it('denies a session issued before the cut and allows one issued after it', async () => {
      const old = s3Of(await assume(roleArn, { tags }));
      assert.equal(await read(old), '{"order":1}', 'the session reads before the revocation');
      await passed(Date.now());
      const cut = new Date();
      await iam.send(new PutRolePolicyCommand({ RoleName: 'enf.orders.revoked', PolicyName: REVOKE_POLICY_NAME, PolicyDocument: JSON.stringify(revokeOlderSessionsPolicy(cut)) }));
      await passed(cut.getTime());

      const fresh = s3Of(await assume(roleArn, { tags }));

      await assert.rejects(read(old), (err: unknown) => {
        assert.equal((err as { name?: string }).name, 'AccessDenied');
        return true;
      });
      assert.equal(await read(fresh), '{"order":1}');
    });
  });
});
