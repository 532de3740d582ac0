/**
 * AWS clients for the CLI: credentials and region from the environment (the SDK's default chain).
 * --endpoint-url (or AWS_ENDPOINT_URL) points them at another endpoint, e.g. a local moto; S3 then
 * uses path-style addressing, since bucket subdomains of 127.0.0.1 do not resolve.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { IAM_RETRY_MODE, reportExhaustedThrottling } from '../../../iam-model/src/retry.ts';
import type { Env } from './options.ts';

export interface AwsOptions {
  region?: string | undefined;
  endpointUrl?: string | undefined;
}

function resolve(opts: AwsOptions, env: Env, service: 'S3' | 'IAM' | 'STS' | 'KMS') {
  const endpoint = opts.endpointUrl ?? env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  const region = opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  // Keys in the given environment win; without them the SDK's default chain (profiles, SSO,
  // container and instance roles) applies.
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  const credentials = accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
  return { region, ...(endpoint ? { endpoint } : {}), ...(credentials ? { credentials } : {}) };
}

export function s3Client(opts: AwsOptions, env: Env): S3Client {
  const c = resolve(opts, env, 'S3');
  return new S3Client({ ...c, ...(c.endpoint ? { forcePathStyle: true } : {}), maxAttempts: 3 });
}

export function iamClient(opts: AwsOptions, env: Env): IAMClient {
  // The SDK's standard retry is the only one (see functions/README.md, "Retries"); throttling
  // that outlasts its 5 attempts surfaces as PODIAM_IAM_THROTTLED.
  return reportExhaustedThrottling(new IAMClient({ ...resolve(opts, env, 'IAM'), retryMode: IAM_RETRY_MODE, maxAttempts: 5 }));
}

export function stsClient(opts: AwsOptions, env: Env): STSClient {
  return new STSClient({ ...resolve(opts, env, 'STS'), maxAttempts: 3 });
}

export function kmsClient(opts: AwsOptions, env: Env): KMSClient {
  return new KMSClient({ ...resolve(opts, env, 'KMS'), maxAttempts: 3 });
}

/** The account of the credentials in use (sts:GetCallerIdentity); the caller words the failure. */
export async function callerAccount(opts: AwsOptions, env: Env): Promise<string> {
  const sts = stsClient(opts, env);
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    if (!id.Account) throw new Error('GetCallerIdentity returned no account');
    return id.Account;
  } finally {
    sts.destroy();
  }
}
