// `podiam uninstall` against moto's IAM and S3: it plans exactly what podiam made for cluster
// prod (its tagged, correctly named roles under /podiam/prod/, the node role's podiam policy, the
// bundle bucket's versions), changes nothing without --yes, and with --yes removes exactly that:
// every decoy (a hand-made role under the path, roles tagged for another cluster or service, the
// node role and its user's policy, another bucket) is read before and after and must be equal.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { legacyManagedRoleName, managedRoleName, managedRolePath } from '../../../core/src/naming.ts';
import { intermediateRolePolicy, INTERMEDIATE_POLICY_NAME, REVOKE_POLICY_NAME, SERVICE_POLICY_NAME } from '../../../iam-model/src/trust.ts';
import { run } from '../../../cli/src/main.ts';
import { MOTO_ACCOUNT_ID, startMoto, type MotoPeer } from '../../peers/index.ts';

const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const ALLOW_GET = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });
const NODE_ROLE = 'prod-node-proxy';
const NODE_ARN = `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/podiam-node/${NODE_ROLE}`;
const STAGING_NODE_ROLE = 'staging-node-proxy';
const STAGING_NODE_ARN = `arn:aws:iam::${MOTO_ACCOUNT_ID}:role/podiam-node/${STAGING_NODE_ROLE}`;
const BUCKET = 'podiam-prod-bundles';
const OTHER_BUCKET = 'someone-elses-bucket';

const ref = (namespace: string, service: string, cluster = 'prod') => ({ cluster, namespace, service });
const tags = (cluster: string, namespace?: string, service?: string) => [
  { Key: 'podiam:cluster', Value: cluster },
  ...(namespace ? [{ Key: 'podiam:namespace', Value: namespace }] : []),
  ...(service ? [{ Key: 'podiam:service', Value: service }] : []),
];

/** The roles podiam made for prod: the only ones that may go. */
const MANAGED = [managedRoleName(ref('orders', 'reader')), managedRoleName(ref('orders', 'ledger')), legacyManagedRoleName(ref('dns', 'updater'))].sort();
/** Everything else: each must be exactly as it was. */
const DECOYS = {
  handMade: 'prod.orders.hand-made', // under /podiam/prod/, no podiam tags
  stagingTagged: 'prod.orders.audit', // under /podiam/prod/, tagged for cluster staging
  clusterTagOnly: 'prod.orders.billing', // under /podiam/prod/, tagged prod, no namespace/service tags
  wrongName: 'prod.orders.writer', // under /podiam/prod/, tags name orders/reader
  otherPath: managedRoleName(ref('payments', 'api')), // the right name and prod's tags, but under /elsewhere/
  staging: managedRoleName(ref('orders', 'reader', 'staging')), // staging's own managed role
  node: NODE_ROLE,
  stagingNode: STAGING_NODE_ROLE, // given as an intermediate role, but its podiam policy is staging's
};

describe('podiam uninstall', () => {
  let moto: MotoPeer | undefined;
  let iam: IAMClient;
  let s3: S3Client;
  let env: Record<string, string>;
  after(async () => {
    iam?.destroy();
    s3?.destroy();
    await moto?.stop();
  });

  async function createRole(name: string, path: string, roleTags: Array<{ Key: string; Value: string }>) {
    await iam.send(new CreateRoleCommand({ RoleName: name, Path: path, AssumeRolePolicyDocument: TRUST, ...(roleTags.length ? { Tags: roleTags } : {}) }));
  }

  before(async () => {
    moto = await startMoto();
    env = { AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey, AWS_REGION: moto.region, AWS_ENDPOINT_URL: moto.endpoint };
    iam = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 1 });
    const prod = managedRolePath('prod');
    const managedPolicy = await iam.send(new CreatePolicyCommand({ PolicyName: 'orders-shared', PolicyDocument: ALLOW_GET }));

    // What podiam made: the current name shape and a legacy one, with a service policy, a revoke
    // policy, an attached managed policy and an instance profile in the way of DeleteRole.
    await createRole(MANAGED[0]!, prod, tags('prod', 'dns', 'updater'));
    await createRole(managedRoleName(ref('orders', 'ledger')), prod, tags('prod', 'orders', 'ledger'));
    await createRole(managedRoleName(ref('orders', 'reader')), prod, tags('prod', 'orders', 'reader'));
    for (const name of MANAGED) await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: SERVICE_POLICY_NAME, PolicyDocument: ALLOW_GET }));
    await iam.send(new PutRolePolicyCommand({ RoleName: managedRoleName(ref('orders', 'reader')), PolicyName: REVOKE_POLICY_NAME, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] }) }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: managedRoleName(ref('orders', 'ledger')), PolicyArn: managedPolicy.Policy!.Arn! }));
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'orders-ledger-profile' }));
    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'orders-ledger-profile', RoleName: managedRoleName(ref('orders', 'ledger')) }));

    // Decoys, each with an inline policy so that "intact" covers its contents too.
    await createRole(DECOYS.handMade, prod, []);
    await createRole(DECOYS.stagingTagged, prod, tags('staging', 'orders', 'audit'));
    await createRole(DECOYS.clusterTagOnly, prod, tags('prod'));
    await createRole(DECOYS.wrongName, prod, tags('prod', 'orders', 'reader'));
    await createRole(DECOYS.otherPath, '/elsewhere/', tags('prod', 'payments', 'api'));
    await createRole(DECOYS.staging, managedRolePath('staging'), tags('staging', 'orders', 'reader'));
    await createRole(NODE_ROLE, '/podiam-node/', []);
    await createRole(STAGING_NODE_ROLE, '/podiam-node/', []);
    for (const name of Object.values(DECOYS)) await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'users-own-policy', PolicyDocument: ALLOW_GET }));
    await iam.send(new PutRolePolicyCommand({ RoleName: NODE_ROLE, PolicyName: INTERMEDIATE_POLICY_NAME, PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: MOTO_ACCOUNT_ID }, 'prod')) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: STAGING_NODE_ROLE, PolicyName: INTERMEDIATE_POLICY_NAME, PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: MOTO_ACCOUNT_ID }, 'staging')) }));

    // The bundle bucket: three versions of the bundle, one of another key and its delete marker.
    for (const bucket of [BUCKET, OTHER_BUCKET]) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    }
    for (const n of [1, 2, 3]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bundle.json', Body: `{"n":${n}}` }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'rotation/state.json', Body: '{}' }));
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'rotation/state.json' }));
    await s3.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'keep.txt', Body: 'keep' }));
  });

  async function uninstall(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await run(['uninstall', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
    return { code, stdout, stderr };
  }
  const FULL = ['--cluster', 'prod', '--intermediate-role-arn', NODE_ARN, '--intermediate-role-arn', STAGING_NODE_ARN, '--bucket', BUCKET];

  /** A role as IAM holds it: path, tags, inline policy names and documents, attached policies; undefined when gone. */
  async function snapshot(name: string) {
    try {
      const role = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role!;
      const inline = (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? [];
      const attached = ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? []).map((p) => p.PolicyArn);
      return { path: role.Path, arn: role.Arn, tags: role.Tags, inline: [...inline].sort(), attached };
    } catch (err: unknown) {
      if ((err as { name?: string }).name === 'NoSuchEntityException' || (err as { name?: string }).name === 'NoSuchEntity') return undefined;
      throw err;
    }
  }
  async function allRoleNames() {
    return ((await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).map((r) => r.RoleName!).sort();
  }
  async function versions(bucket: string) {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    return [...(out.Versions ?? []).map((v) => `${v.Key} ${v.VersionId}`), ...(out.DeleteMarkers ?? []).map((m) => `${m.Key} ${m.VersionId} marker`)].sort();
  }

  interface PlanDoc {
    roles: Array<{ name: string; inlinePolicyNames: string[]; managedPolicyArns: string[] }>;
    intermediatePolicies: Array<{ roleName: string; policyName: string }>;
    leftAlone: Array<{ name: string; reason: string }>;
    bucket: { name: string; versions: Array<{ key: string; deleteMarker: boolean }> } | null;
    applied: boolean;
  }

  it('plans exactly the roles podiam made for the cluster, the node role policy and every bundle version, and changes nothing without --yes', async () => {
    const rolesBefore = await allRoleNames();
    const snapshotsBefore = await Promise.all(rolesBefore.map(snapshot));
    const versionsBefore = await versions(BUCKET);

    const r = await uninstall([...FULL, '--format', 'json']);

    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as PlanDoc;
    assert.equal(doc.applied, false);
    assert.deepEqual(doc.roles.map((x) => x.name), MANAGED);
    assert.deepEqual(doc.roles.find((x) => x.name === managedRoleName(ref('orders', 'reader')))!.inlinePolicyNames, [REVOKE_POLICY_NAME, SERVICE_POLICY_NAME]);
    assert.equal(doc.roles.find((x) => x.name === managedRoleName(ref('orders', 'ledger')))!.managedPolicyArns.length, 1);
    assert.deepEqual(doc.intermediatePolicies, [{ roleName: NODE_ROLE, arn: NODE_ARN, policyName: INTERMEDIATE_POLICY_NAME }]);
    // Under the path but not podiam's: listed with the reason. Other paths are never read.
    assert.deepEqual(Object.fromEntries(doc.leftAlone.map((l) => [l.name, l.reason])), {
      [DECOYS.handMade]: 'no podiam:cluster tag: podiam did not create it',
      [DECOYS.stagingTagged]: 'tagged podiam:cluster=staging, not prod',
      [DECOYS.clusterTagOnly]: 'no podiam:namespace/podiam:service tags: podiam did not create it',
      [DECOYS.wrongName]: 'its name is not the role name of orders/reader, which its tags name: podiam did not create it',
      [STAGING_NODE_ARN]: `its ${INTERMEDIATE_POLICY_NAME} policy is not for /podiam/prod/ roles`,
    });
    assert.equal(doc.bucket!.versions.length, 5);
    assert.equal(doc.bucket!.versions.filter((v) => v.deleteMarker).length, 1);

    assert.deepEqual(await allRoleNames(), rolesBefore);
    assert.deepEqual(await Promise.all(rolesBefore.map(snapshot)), snapshotsBefore);
    assert.deepEqual(await versions(BUCKET), versionsBefore);
  });

  it('says in its human plan what --yes would do and that nothing was changed', async () => {
    const r = await uninstall(FULL);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^ {2}- role ${MANAGED[2]!.replace(/\./g, '\\.')} \\(orders/reader\\): 2 inline policies, 0 attached policies$`, 'm'));
    assert.match(r.stdout, /^ {2}- policy podiam-assume-managed-roles of node role prod-node-proxy \(the role itself stays\)$/m);
    assert.match(r.stdout, /^ {2}- bucket podiam-prod-bundles: 4 object versions and 1 delete marker of 2 keys/m);
    assert.match(r.stdout, /^ {2}= prod\.orders\.hand-made: no podiam:cluster tag/m);
    assert.match(r.stdout, /^Plan: 3 roles to delete, 1 node role policy to remove, 5 object versions to delete; 5 left alone\.$/m);
    assert.match(r.stdout, /^Nothing was changed\. Run again with --yes/m);
  });

  it('warns without --bucket that the running stack would recreate the roles from the bundle', async () => {
    const r = await uninstall(['--cluster', 'prod']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^No --bucket given: the bundle stays, and while the stack runs its reconcile function recreates the roles deleted here/m);
    assert.match(r.stdout, /^No --intermediate-role-arn given: no node role policy was looked at\.$/m);
  });

  it('exits 1 with PODIAM_UNINSTALL_FAILED, and deletes nothing, when IAM cannot be read', async () => {
    // A loopback port nothing listens on: found by listening on port 0, then closing.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const r = await uninstall([...FULL, '--yes', '--account-id', MOTO_ACCOUNT_ID, '--endpoint-url', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_UNINSTALL_FAILED reading IAM failed; nothing was changed/);
    assert.equal(r.stdout, '');
    assert.deepEqual((await allRoleNames()).filter((n) => MANAGED.includes(n)), MANAGED);
  });

  it('refuses to run without a named cluster, or with a DIR argument (usage, exit 2)', async () => {
    const noCluster = await uninstall(['--yes']);
    assert.equal(noCluster.code, 2);
    assert.match(noCluster.stderr, /PODIAM_CLI_USAGE .*--cluster/);
    const withDir = await uninstall(['policies', '--cluster', 'prod']);
    assert.equal(withDir.code, 2);
    assert.match(withDir.stderr, /PODIAM_CLI_USAGE unexpected argument 'policies'/);
    assert.deepEqual((await allRoleNames()).filter((n) => MANAGED.includes(n)), MANAGED);
  });

  it('with --yes removes exactly what podiam made: the managed roles, the node role policy and every bundle version; every decoy is as it was', async () => {
    const decoysBefore = await Promise.all(Object.values(DECOYS).map(snapshot));
    const otherBucketBefore = await versions(OTHER_BUCKET);

    const r = await uninstall([...FULL, '--yes']);

    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Uninstalled\.$/m);
    for (const name of MANAGED) assert.equal(await snapshot(name), undefined, `${name} is still there`);
    const decoysAfter = await Promise.all(Object.values(DECOYS).map(snapshot));
    const nodeIndex = Object.keys(DECOYS).indexOf('node');
    // The node role stays with only the user's own policy.
    assert.ok(decoysAfter[nodeIndex], 'the node role itself was deleted');
    assert.deepEqual(decoysAfter[nodeIndex]!.inline, ['users-own-policy']);
    assert.deepEqual(decoysBefore[nodeIndex]!.inline, [INTERMEDIATE_POLICY_NAME, 'users-own-policy'].sort());
    decoysBefore[nodeIndex]!.inline = ['users-own-policy'];
    assert.deepEqual(decoysAfter, decoysBefore);
    // The instance profile was not podiam's: it stays, without the deleted role.
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'orders-ledger-profile' }));
    assert.deepEqual(profile.InstanceProfile!.Roles, []);
    assert.deepEqual(await versions(BUCKET), []);
    assert.deepEqual(await versions(OTHER_BUCKET), otherBucketBefore);
    assert.equal(otherBucketBefore.length, 1);
  });

  it('plans nothing more once uninstalled, so running it again is safe', async () => {
    const r = await uninstall([...FULL, '--format', 'json', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as PlanDoc;
    assert.deepEqual([doc.roles.length, doc.intermediatePolicies.length, doc.bucket!.versions.length], [0, 0, 0]);
    assert.deepEqual(doc.leftAlone.find((l) => l.name === NODE_ARN), { name: NODE_ARN, reason: `has no ${INTERMEDIATE_POLICY_NAME} policy: nothing to remove` });
  });
});
