// Shared set-up for the functions' integration tests: a moto peer (IAM, STS, S3), the bundle
// bucket with a published bundle, the intermediate (node proxy) role, and function deps whose
// IAM client counts every command it sends.
import { CreatePolicyCommand, CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { NO_BOUNDARY_ACKNOWLEDGEMENT } from '../../../functions/lib/config.ts';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { countCalls, type CallCounts } from '../../../functions/lib/call-counter.ts';
import type { FunctionsConfig } from '../../../functions/lib/config.ts';
import { silentLogger } from '../../../functions/lib/log.ts';
import type { ReconcileDeps } from '../../../functions/lib/reconcile.ts';
import { startMoto, type MotoPeer } from '../../peers/index.ts';

export const CLUSTER = 'prod';
export const BUCKET = 'podiam-bundles';
export const BUNDLE_KEY = 'bundle.json';
export const PROXY_ROLE_NAME = 'podiam-prod-node-proxy';
const xrayArn = (accountId: string) => `arn:aws:iam::${accountId}:policy/podiam-test-xray`;

export interface Harness {
  moto: MotoPeer;
  iam: IAMClient;
  s3: S3Client;
  sts: STSClient;
  /** Counts of the commands sent through `deps.iam`. */
  calls: CallCounts;
  config: FunctionsConfig;
  deps: ReconcileDeps;
  proxyRoleArn: string;
  /** Environment for the functions' `handler` exports (module-scope config). */
  env: Record<string, string>;
  publish(bundle: Bundle): Promise<void>;
  stop(): Promise<void>;
}

export function clientsFor(moto: MotoPeer) {
  const common = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 2 };
  return { iam: new IAMClient(common), s3: new S3Client({ ...common, forcePathStyle: true }), sts: new STSClient(common) };
}

export async function startHarness(overrides: Partial<FunctionsConfig> = {}): Promise<Harness> {
  const moto = await startMoto();
  try {
    // Set-up goes through its own clients, so the counted client sees only the functions' calls.
    const setup = clientsFor(moto);
    await setup.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const proxy = await setup.iam.send(
      new CreateRoleCommand({
        RoleName: PROXY_ROLE_NAME,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      }),
    );
    const proxyRoleArn = proxy.Role!.Arn!;
    await setup.iam.send(
      new CreatePolicyCommand({
        PolicyName: 'podiam-test-xray',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: '*' }] }),
      }),
    );
    const counted = clientsFor(moto);
    const calls = countCalls(counted.iam);
    const config: FunctionsConfig = {
      cluster: CLUSTER,
      intermediateRoleArns: [proxyRoleArn],
      bundleBucket: BUCKET,
      bundleKey: BUNDLE_KEY,
      stateKey: `state/${CLUSTER}/intermediate-rotation.json`,
      region: moto.region,
      awsEndpoint: moto.endpoint,
      // The example bundle's writer attaches this one (the harness creates it above).
      attachableManagedPolicyArns: [xrayArn(moto.accountId)],
      ...overrides,
    };
    const deps: ReconcileDeps = {
      iam: counted.iam,
      s3: counted.s3,
      config,
      accountId: async () => moto.accountId,
      log: silentLogger,
    };
    const env: Record<string, string> = {
      PODIAM_CLUSTER_NAME: CLUSTER,
      PODIAM_INTERMEDIATE_ROLE_ARNS: proxyRoleArn,
      PODIAM_BUNDLE_BUCKET: BUCKET,
      PODIAM_BUNDLE_KEY: BUNDLE_KEY,
      PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: NO_BOUNDARY_ACKNOWLEDGEMENT,
      PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS: xrayArn(moto.accountId),
      PODIAM_AWS_ENDPOINT: moto.endpoint,
      AWS_REGION: moto.region,
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
    };
    return {
      moto,
      iam: setup.iam,
      s3: setup.s3,
      sts: setup.sts,
      calls,
      config,
      deps,
      proxyRoleArn,
      env,
      publish: async (bundle) => {
        await setup.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: BUNDLE_KEY, Body: JSON.stringify(bundle), ContentType: 'application/json' }));
      },
      stop: async () => {
        for (const c of [setup, counted]) {
          c.iam.destroy();
          c.s3.destroy();
          c.sts.destroy();
        }
        await moto.stop();
      },
    };
  } catch (err: unknown) {
    await moto.stop();
    throw err;
  }
}
