/**
 * IMDSv2 session tokens, issued by the proxy itself (never the node's: a pod must not hold a
 * token for the real IMDS). A token is `<expiry ms>.<HMAC(key, ip|expiry)>`: bound to the
 * caller's IP and its TTL, checked without any state, so a token cannot be replayed from
 * another pod and memory does not grow with callers.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProxyError } from '../errors.ts';

export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const MAX_TOKEN_TTL_SECONDS = 21600;

/** The TTL header as IMDS reads it: an integer from 1 to 21600, else 400. */
export function parseTokenTtl(header: string | string[] | undefined): number {
  const value = Array.isArray(header) ? undefined : header?.trim();
  if (value === undefined || !/^\d{1,5}$/.test(value)) throw new ProxyError('PODIAM_IMDS_TOKEN_TTL_INVALID');
  const ttl = Number(value);
  if (ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) throw new ProxyError('PODIAM_IMDS_TOKEN_TTL_INVALID');
  return ttl;
}

export class TokenIssuer {
  private readonly key: Buffer;

  constructor(
    private readonly now: () => number = Date.now,
    key: Buffer = randomBytes(32),
  ) {
    this.key = key;
  }

  private mac(ip: string, expiresAt: number): string {
    return createHmac('sha256', this.key).update(`${ip}|${expiresAt}`).digest('base64url');
  }

  issue(ip: string, ttlSeconds: number): string {
    const expiresAt = this.now() + ttlSeconds * 1000;
    return `${expiresAt}.${this.mac(ip, expiresAt)}`;
  }

  /** True only for an unexpired token issued to this IP. */
  verify(token: string, ip: string): boolean {
    const m = /^(\d{13,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const expiresAt = Number(m[1]);
    if (expiresAt <= this.now()) return false;
    const want = Buffer.from(this.mac(ip, expiresAt));
    const got = Buffer.from(m[2]!);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
