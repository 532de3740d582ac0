/** AWS SDK v3 clients for the functions, built once per cold start from the config. */
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { FunctionsConfig } from './config.ts';
import { IAM_RETRY_MODE, reportExhaustedThrottling } from '../../iam-model/src/retry.ts';

/**
 * IAM attempts per call (the first one included), the SDK's standard retry: a throttled attempt
 * waits random(0, min(20 s, 1 s·2^n)) before the next. The budget and how it fits each function's
 * time limit are in functions/README.md ("Retries").
 *   reconcile, rotate: 5 attempts, at most 1+2+4+8 = 15 s of waiting per call (7.5 s on average),
 *     far inside the 900 s Lambda timeout;
 *   admission: 3 attempts, at most 1+2 = 3 s of waiting, inside its 4.5 s answer budget, which
 *     aborts whatever is still running when it ends.
 */
export const IAM_MAX_ATTEMPTS = { reconcile: 5, admission: 3 } as const;

export interface AwsClients {
  iam: IAMClient;
  s3: S3Client;
  sts: STSClient;
  /** Only bundle signature checks use it (kms:Verify on the stack's BundleSigningKeyArn). */
  kms: KMSClient;
}

/**
 * `env` may carry AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) for a local
 * server whose environment differs from the process's; otherwise the SDK's default chain applies.
 */
export function createAwsClients(
  config: Pick<FunctionsConfig, 'region' | 'awsEndpoint'>,
  env: Record<string, string | undefined> = process.env,
  iamMaxAttempts: number = IAM_MAX_ATTEMPTS.reconcile,
): AwsClients {
  const credentials =
    env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
      : undefined;
  const common = {
    ...(credentials ? { credentials } : {}),
    region: config.region,
    retryMode: IAM_RETRY_MODE,
    maxAttempts: 3,
    ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}),
  };
  return {
    // IAM is global per partition: the SDK's endpoint rules map the function's region to its
    // partition's one endpoint (eu-west-1 → iam.amazonaws.com, cn-north-1 → iam.cn-north-1
    // .amazonaws.com.cn, us-gov-west-1 → iam.us-gov.amazonaws.com); pinning us-east-1 sent
    // aws-cn and aws-us-gov stacks to the aws partition's endpoint.
    // The one retry layer for IAM: the SDK's, with this function's budget; throttling that
    // outlasts it surfaces as PODIAM_IAM_THROTTLED.
    iam: reportExhaustedThrottling(new IAMClient({ ...common, maxAttempts: iamMaxAttempts })),
    s3: new S3Client({ ...common, forcePathStyle: config.awsEndpoint !== undefined }),
    sts: new STSClient(common),
    kms: new KMSClient(common),
  };
}

export interface AccountResolver {
  (): Promise<string>;
  /** Learns the account from the invoked function's ARN (Lambda's context), so no STS call is needed. */
  learn(invokedFunctionArn: string | undefined): void;
}

const LAMBDA_ARN = /^arn:[\w-]+:lambda:[\w-]+:(\d{12}):function:/;

/**
 * The account this function runs in: configured (PODIAM_ACCOUNT_ID), learnt from the Lambda
 * context's invokedFunctionArn, or else asked of STS once (the Promise is cached; a failure is
 * evicted so the next invocation asks again). In Lambda the context answers, which keeps an STS
 * round trip out of the admission webhook's first answer.
 */
export function accountIdResolver(sts: STSClient, configured?: string): AccountResolver {
  let pending: Promise<string> | undefined = configured ? Promise.resolve(configured) : undefined;
  const resolve = (() => {
    pending ??= sts.send(new GetCallerIdentityCommand({})).then((r) => {
      if (!r.Account) throw new Error('sts:GetCallerIdentity returned no Account');
      return r.Account;
    });
    pending.catch(() => {
      pending = undefined;
    });
    return pending;
  }) as AccountResolver;
  resolve.learn = (arn) => {
    const account = arn ? LAMBDA_ARN.exec(arn)?.[1] : undefined;
    if (account && !pending) pending = Promise.resolve(account);
  };
  return resolve;
}
