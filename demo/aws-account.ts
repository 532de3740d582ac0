/**
 * What a real AWS account would already hold before podiam is deployed, made in moto with the
 * administrator's keys (moto's IAM enforcement is on): the permissions boundary the guardrails
 * name, the intermediate (node proxy) role and a session of it for the node, the buckets and
 * the table the example policies name, one bucket they do not, and the bundle bucket.
 */
import { CreatePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FunctionsConfig } from '../functions/lib/config.ts';
import type { MotoPeer } from '../test/peers/moto.ts';
import type { ImdsRoleCredentials } from '../test/peers/imds.ts';
import { DEMO_NAMES } from './checks.ts';
import { DemoError } from './errors.ts';

export interface AdminClients {
  iam: IAMClient;
  s3: S3Client;
  sts: STSClient;
  ddb: DynamoDBClient;
  destroy(): void;
}

export function adminClients(moto: MotoPeer): AdminClients {
  const common = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 2 };
  const iam = new IAMClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const sts = new STSClient(common);
  const ddb = new DynamoDBClient(common);
  return { iam, s3, sts, ddb, destroy: () => [iam, s3, sts, ddb].forEach((c) => c.destroy()) };
}

export interface DemoAccount {
  nodeRoleName: string;
  nodeRoleArn: string;
  /** A session of the intermediate role, as IMDS would serve it to the node (for the metadata mock). */
  nodeCredentials: ImdsRoleCredentials;
}

const policy = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/** `arn:aws:iam::<acct>:policy/<path>/<name>` → CreatePolicy's Path and PolicyName. */
function splitPolicyArn(arn: string): { path: string; name: string } {
  const m = /^arn:[\w-]+:iam::\d{12}:policy(\/(?:.*\/)?)([^/]+)$/.exec(arn);
  if (!m) throw new DemoError(`the guardrails' permissionsBoundaryArn '${arn}' is not a managed policy ARN (arn:aws:iam::<account>:policy/<path>/<name>).`);
  return { path: m[1]!, name: m[2]! };
}

export async function prepareAccount(moto: MotoPeer, admin: AdminClients, opts: { cluster: string; boundaryArn?: string | undefined }): Promise<DemoAccount> {
  const n = DEMO_NAMES;
  if (opts.boundaryArn) {
    const { path, name } = splitPolicyArn(opts.boundaryArn);
    await admin.iam.send(
      new CreatePolicyCommand({
        Path: path,
        PolicyName: name,
        Description: 'The most any podiam-managed workload role may do.',
        PolicyDocument: policy([{ Effect: 'Allow', Action: ['s3:*', 'dynamodb:*', 'route53:*', 'sqs:*', 'sns:*'], Resource: '*' }]),
      }),
    );
  }
  // In an account the node's instance profile (ec2.amazonaws.com) assumes this role; here the
  // administrator stands in for EC2 and hands the session to the metadata mock.
  const nodeRoleName = `podiam-${opts.cluster}-node-proxy`;
  const role = await admin.iam.send(
    new CreateRoleCommand({
      RoleName: nodeRoleName,
      Description: 'The node proxy (intermediate) role: reconcile gives it sts:AssumeRole on this cluster\'s managed roles.',
      AssumeRolePolicyDocument: policy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${moto.accountId}:root` }, Action: 'sts:AssumeRole' }]),
    }),
  );
  const nodeRoleArn = role.Role!.Arn!;
  const session = await admin.sts.send(new AssumeRoleCommand({ RoleArn: nodeRoleArn, RoleSessionName: 'i-1234567890abcdef0', DurationSeconds: 3600 }));
  const c = session.Credentials!;
  const nodeCredentials: ImdsRoleCredentials = {
    AccessKeyId: c.AccessKeyId!,
    SecretAccessKey: c.SecretAccessKey!,
    Token: c.SessionToken!,
    Expiration: c.Expiration!.toISOString().replace(/\.\d+Z$/, 'Z'),
  };

  for (const bucket of [n.ordersBucket, n.otherBucket, n.bundleBucket]) await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.s3.send(new PutObjectCommand({ Bucket: n.ordersBucket, Key: n.orderKey, Body: '{"order":1,"amount":42}', ContentType: 'application/json' }));
  await admin.s3.send(new PutObjectCommand({ Bucket: n.otherBucket, Key: n.otherKey, Body: 'not for the orders team', ContentType: 'text/plain' }));
  await admin.ddb.send(
    new CreateTableCommand({
      TableName: n.ledgerTable,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return { nodeRoleName, nodeRoleArn, nodeCredentials };
}

/** The functions' configuration for the demo's stack: this account's intermediate role, the bundle bucket, moto as the endpoint. */
export function demoFunctionsConfig(moto: MotoPeer, account: DemoAccount, opts: { cluster: string; boundaryArn?: string | undefined }): FunctionsConfig {
  return {
    cluster: opts.cluster,
    intermediateRoleArns: [account.nodeRoleArn],
    bundleBucket: DEMO_NAMES.bundleBucket,
    bundleKey: DEMO_NAMES.bundleKey,
    stateKey: `state/${opts.cluster}/intermediate-rotation.json`,
    region: moto.region,
    awsEndpoint: moto.endpoint,
    // The boundary comes from the stack only; the demo's stack sets the one the guardrails name.
    ...(opts.boundaryArn ? { permissionsBoundaryArn: opts.boundaryArn } : {}),
    attachableManagedPolicyArns: [],
  };
}
