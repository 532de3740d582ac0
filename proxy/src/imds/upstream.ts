/**
 * The node's real IMDS, reached with node:http (a keep-alive Agent of its own) and the proxy's own
 * IMDSv2 token. Used for the proxy's own credentials, the instance identity document, and
 * allowlisted passthrough. node:http rather than undici: undici added about 0.5 MB to the bundle
 * and several MB resident on every node for a handful of requests (issue 16; docs/benchmarks.md).
 */
import { Agent, type OutgoingHttpHeaders } from 'node:http';
import { boundedExchange } from '../http-exchange.ts';
import { ProxyError } from '../errors.ts';

export interface UpstreamAnswer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface NodeCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface UpstreamOptions {
  /** Until the TCP connection is up. */
  connectTimeoutMs?: number;
  /** Once connected, until the whole answer is in; a dead or slow upstream fails within this. */
  timeoutMs?: number;
}

const TOKEN_TTL_SECONDS = 21600;
/** The most an answer may weigh: IMDS answers are small (the user-data limit is 16 KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class ImdsUpstream {
  private readonly agent: Agent;
  private readonly target: URL;
  private readonly connectTimeoutMs: number;
  private readonly timeoutMs: number;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenInflight: Promise<string> | undefined;
  private creds: NodeCredentials | undefined;
  private credsInflight: Promise<NodeCredentials> | undefined;

  constructor(readonly origin: string, options: UpstreamOptions = {}) {
    this.target = new URL(origin);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.agent = new Agent({ keepAlive: true, maxSockets: 8, maxFreeSockets: 8, timeout: 4000 });
  }

  /** One exchange with the upstream, bounded by the connect and answer timeouts and MAX_ANSWER_BYTES. */
  private async exchange(method: string, path: string, headers: OutgoingHttpHeaders): Promise<UpstreamAnswer> {
    const where = `the node's IMDS at ${this.origin}`;
    try {
      const answer = await boundedExchange(this.target, this.agent, { method, path, headers }, { connectTimeoutMs: this.connectTimeoutMs, answerTimeoutMs: this.timeoutMs, maxBytes: MAX_ANSWER_BYTES }, {
        timeout: (phase, ms) => new ProxyError('PODIAM_UPSTREAM_TIMEOUT', phase === 'connect' ? `${where} did not accept a connection within ${ms} ms` : `${where} did not answer within ${ms} ms`),
        tooLarge: (max) => new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', `${where} answered more than ${max} bytes for ${path}`),
      });
      return { status: answer.status, contentType: answer.headers['content-type'], body: answer.body };
    } catch (err) {
      if (err instanceof ProxyError) throw err;
      throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', `${where} could not be reached: ${(err as Error).message}`, { cause: err });
    }
  }

  private async fetchToken(): Promise<string> {
    const res = await this.exchange('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) });
    const body = res.body.toString('utf8');
    if (res.status !== 200 || !body) throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', `the node's IMDS refused a session token (HTTP ${res.status})`);
    this.token = { value: body.trim(), expiresAt: Date.now() + (TOKEN_TTL_SECONDS - 300) * 1000 };
    return this.token.value;
  }

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value;
    this.tokenInflight ??= this.fetchToken().finally(() => {
      this.tokenInflight = undefined;
    });
    return this.tokenInflight;
  }

  /**
   * GET with our token and no other header. Nothing of the pod's request is copied: no
   * hop-by-hop headers (RFC 9110 §7.6.1) and above all no X-Forwarded-For, which IMDSv2
   * refuses (a request carrying it is treated as forwarded and rejected).
   */
  async get(path: string): Promise<UpstreamAnswer> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.sessionToken();
      const res = await this.exchange('GET', path, { 'x-aws-ec2-metadata-token': token });
      if (res.status === 401 && attempt === 0) {
        this.token = undefined; // expired or the upstream restarted: get a new token once
        continue;
      }
      return res;
    }
    throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', "the node's IMDS keeps refusing the proxy's token");
  }

  async getText(path: string): Promise<string> {
    const a = await this.get(path);
    if (a.status !== 200) throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', `the node's IMDS answered ${a.status} for ${path}`);
    return a.body.toString('utf8');
  }

  async identityDocument(): Promise<{ accountId: string; region: string; instanceId?: string }> {
    return JSON.parse(await this.getText('/latest/dynamic/instance-identity/document')) as { accountId: string; region: string };
  }

  /**
   * The proxy's own credentials (the node role), cached until 5 minutes before they expire and
   * fetched once for any number of concurrent callers (a burst of prefetches at start-up).
   */
  async nodeCredentials(): Promise<NodeCredentials> {
    if (this.creds && this.creds.expiration.getTime() - Date.now() > 5 * 60_000) return this.creds;
    this.credsInflight ??= this.fetchNodeCredentials().finally(() => {
      this.credsInflight = undefined;
    });
    return this.credsInflight;
  }

  private async fetchNodeCredentials(): Promise<NodeCredentials> {
    const names = (await this.getText('/latest/meta-data/iam/security-credentials/')).split('\n').map((s) => s.trim()).filter(Boolean);
    if (!names[0]) throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', 'the node has no instance profile role');
    const doc = JSON.parse(await this.getText(`/latest/meta-data/iam/security-credentials/${names[0]}`)) as Record<string, string>;
    if (!doc.AccessKeyId || !doc.SecretAccessKey || !doc.Token || !doc.Expiration) {
      throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', "the node's IMDS returned incomplete credentials");
    }
    this.creds = { accessKeyId: doc.AccessKeyId, secretAccessKey: doc.SecretAccessKey, sessionToken: doc.Token, expiration: new Date(doc.Expiration) };
    return this.creds;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }
}
