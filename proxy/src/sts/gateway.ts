/**
 * AssumeRole with the proxy's own credentials (from the node's IMDS), against the regional STS
 * endpoint (or PODIAM_STS_ENDPOINT, for moto in tests): one signed POST of the Query API over a
 * keep-alive agent. Not @aws-sdk/client-sts: for this one call it kept about 21 MB more resident
 * on every node (issue 16; docs/benchmarks.md). One attempt per call: the credential cache
 * retries with its own backoff, jitter and deadline.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { boundedExchange } from '../http-exchange.ts';
import { readAssumeRoleAnswer, readErrorAnswer } from './query-answer.ts';
import { formEncode, signFormPost, type SigningCredentials } from './sigv4.ts';
import type { AssumeRequest, CredentialSource, IssuedCredentials } from './types.ts';

export type { SigningCredentials } from './sigv4.ts';

export interface StsGatewayOptions {
  region: string;
  endpoint?: string | undefined;
  /** Fixed credentials, or a provider asked before every call (it caches: ImdsUpstream.nodeCredentials). */
  credentials: SigningCredentials | (() => Promise<SigningCredentials>);
  /** Per-call timeout once connected, until the whole answer is in. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** STS answered, and not with credentials: its error code is the name, as the AWS SDKs do. */
export class StsAnswerError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** STS did not answer in time (connect or answer timeout). */
export class StsTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** The most an STS answer may weigh (an AssumeRole answer is about 2–4 KB). */
const MAX_ANSWER_BYTES = 256 * 1024;

/** The regional endpoint: aws and aws-cn partitions; other partitions set PODIAM_STS_ENDPOINT. */
export function regionalEndpoint(region: string): string {
  return `https://sts.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;
}

export class StsGateway implements CredentialSource {
  private readonly url: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: StsGatewayOptions) {
    this.url = new URL(options.endpoint ?? regionalEndpoint(options.region));
    const agentOptions = { keepAlive: true, maxSockets: 16, maxFreeSockets: 4, timeout: 30_000 };
    const https = this.url.protocol === 'https:';
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  async assume(request: AssumeRequest): Promise<IssuedCredentials> {
    const fields: Array<[string, string]> = [
      ['Action', 'AssumeRole'],
      ['Version', '2011-06-15'],
      ['RoleArn', request.roleArn],
      ['RoleSessionName', request.sessionName],
      ['DurationSeconds', String(request.durationSeconds)],
    ];
    if (request.externalId) fields.push(['ExternalId', request.externalId]);
    request.tags.forEach((t, i) => fields.push([`Tags.member.${i + 1}.Key`, t.Key], [`Tags.member.${i + 1}.Value`, t.Value]));
    const body = formEncode(fields);
    const c = this.options.credentials;
    const credentials = typeof c === 'function' ? await c() : c;
    const path = this.url.pathname || '/';
    const headers = signFormPost({ host: this.url.host, path, body }, credentials, this.options.region, 'sts', new Date());
    const answer = await this.post(path, headers, body);
    if (answer.status !== 200) {
      const { code, message } = readErrorAnswer(answer.body);
      throw new StsAnswerError(code ?? `Http${answer.status}`, answer.status, message ?? `STS answered HTTP ${answer.status}`);
    }
    const issued = readAssumeRoleAnswer(answer.body);
    if (!issued) throw new Error('STS AssumeRole answered without complete credentials');
    return { ...issued, issuedAt: new Date() };
  }

  /** One POST, bounded by the connect timeout, the answer timeout and MAX_ANSWER_BYTES. */
  private async post(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
    const answer = await boundedExchange(
      this.url,
      this.agent,
      { method: 'POST', path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body },
      { connectTimeoutMs: this.connectTimeoutMs, answerTimeoutMs: this.requestTimeoutMs, maxBytes: MAX_ANSWER_BYTES },
      {
        timeout: (phase, ms) => new StsTimeoutError(`STS at ${this.url.host} did not ${phase === 'connect' ? 'accept a connection' : 'answer'} within ${ms} ms`),
        tooLarge: (max) => new Error(`STS answered more than ${max} bytes`),
      },
    );
    return { status: answer.status, body: answer.body.toString('utf8') };
  }

  destroy(): void {
    this.agent.destroy();
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
  if (err instanceof StsAnswerError && err.status >= 400 && err.status < 500) return name;
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
