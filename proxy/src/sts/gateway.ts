/**
 * AssumeRole through @aws-sdk/client-sts with the proxy's own credentials (from the node's IMDS),
 * against the regional endpoint (or PODIAM_STS_ENDPOINT, for moto in tests).
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { STSClientConfig } from '@aws-sdk/client-sts';
import type { AssumeRequest, CredentialSource, IssuedCredentials } from './types.ts';

export interface StsGatewayOptions {
  region: string;
  endpoint?: string | undefined;
  credentials: NonNullable<STSClientConfig['credentials']>;
  /** Per-attempt timeout for one AssumeRole HTTP call. */
  requestTimeoutMs?: number;
}

export class StsGateway implements CredentialSource {
  readonly client: STSClient;

  constructor(options: StsGatewayOptions) {
    this.client = new STSClient({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      credentials: options.credentials,
      // The credential cache retries with its own backoff and deadline; one SDK attempt each.
      maxAttempts: 1,
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 5000, connectionTimeout: 2000 },
    });
  }

  async assume(request: AssumeRequest): Promise<IssuedCredentials> {
    const out = await this.client.send(
      new AssumeRoleCommand({
        RoleArn: request.roleArn,
        RoleSessionName: request.sessionName,
        DurationSeconds: request.durationSeconds,
        ...(request.externalId ? { ExternalId: request.externalId } : {}),
        ...(request.tags.length ? { Tags: request.tags } : {}),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new Error('STS AssumeRole answered without complete credentials');
    }
    const expiration = c.Expiration instanceof Date ? c.Expiration : new Date(c.Expiration);
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration, issuedAt: new Date() };
  }

  destroy(): void {
    this.client.destroy();
  }
}

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);
const REFUSALS = new Set(['AccessDenied', 'AccessDeniedException', 'ValidationError', 'RegionDisabledException', 'ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'MalformedPolicyDocument', 'MalformedPolicyDocumentException', 'PackedPolicyTooLarge', 'PackedPolicyTooLargeException']);

/**
 * STS's error code when STS answered and said no (AccessDenied for a wrong external ID or a trust
 * that does not name the node role, ValidationError, ...); undefined when it did not answer
 * (network, timeout, 5xx) or only asked to slow down (throttling).
 */
export function stsRefusalCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const name = (err as { name?: string }).name ?? '';
  if (THROTTLING.has(name)) return undefined;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return name;
  return REFUSALS.has(name) ? name : undefined;
}

const NOT_RETRIED = new Set(['ValidationError', 'MalformedPolicyDocument', 'MalformedPolicyDocumentException', 'PackedPolicyTooLarge', 'PackedPolicyTooLargeException', 'RegionDisabledException']);

/**
 * Worth retrying: throttling, network and 5xx failures, and AccessDenied — IAM is eventually
 * consistent, so a role (or a trust policy) created seconds ago is often not assumable yet.
 */
export function isRetriable(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  const name = (err as { name?: string }).name ?? '';
  const code = (err as { Code?: string }).Code ?? '';
  return !NOT_RETRIED.has(name) && !NOT_RETRIED.has(code);
}
