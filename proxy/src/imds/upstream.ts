/**
 * The node's real IMDS, reached with undici and the proxy's own IMDSv2 token. Used for the
 * proxy's own credentials, the instance identity document, and allowlisted passthrough.
 */
import { Pool } from 'undici';
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
  connectTimeoutMs?: number;
  /** Headers and body each; a dead or slow upstream fails within this. */
  timeoutMs?: number;
}

const TOKEN_TTL_SECONDS = 21600;

export class ImdsUpstream {
  private readonly pool: Pool;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenInflight: Promise<string> | undefined;
  private creds: NodeCredentials | undefined;
  private credsInflight: Promise<NodeCredentials> | undefined;

  constructor(readonly origin: string, options: UpstreamOptions = {}) {
    const timeout = options.timeoutMs ?? 1000;
    this.pool = new Pool(origin, {
      connections: 8,
      connectTimeout: options.connectTimeoutMs ?? 500,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 4000,
    });
  }

  private async fetchToken(): Promise<string> {
    const res = await this.pool.request({ path: '/latest/api/token', method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) } });
    const body = await res.body.text();
    if (res.statusCode !== 200 || !body) throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', `the node's IMDS refused a session token (HTTP ${res.statusCode})`);
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
      const res = await this.pool.request({ path, method: 'GET', headers: { 'x-aws-ec2-metadata-token': token } });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode === 401 && attempt === 0) {
        this.token = undefined; // expired or the upstream restarted: get a new token once
        continue;
      }
      const ct = res.headers['content-type'];
      return { status: res.statusCode, contentType: Array.isArray(ct) ? ct[0] : ct, body };
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
    await this.pool.close();
  }
}
