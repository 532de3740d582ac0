/**
 * IMDSv2 session tokens, issued by the proxy itself (never the node's: a pod must not hold a
 * token for the real IMDS). A token is `<expiry ms>.<HMAC(key, ip|expiry)>`: bound to the
 * caller's IP and its TTL, checked without any state, so a token cannot be replayed from
 * another pod. Tokens that passed are remembered (bounded) so that a session's later requests
 * skip the MAC; memory stays bounded whatever the callers send.
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

/** Tokens verified and remembered at most; past it the oldest goes (a pod asks with one token for hours). */
export const VERIFIED_TOKENS_KEPT = 8192;

export class TokenIssuer {
  private readonly key: Buffer;
  /**
   * Tokens whose MAC has been checked, with the IP and expiry the MAC binds them to. Checking a MAC
   * is most of what a cached credential answer costs (an HMAC, a regexp, two buffers: about 14 µs
   * of the proxy's ~31 µs per answer, measured on Node 24); a token is sent again with every
   * request of its session, so the check is done once per token. Only tokens that passed the full
   * check are kept, so a hit can only confirm what the MAC already proved.
   */
  private readonly verified = new Map<string, { ip: string; expiresAt: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    key: Buffer = randomBytes(32),
    private readonly kept = VERIFIED_TOKENS_KEPT,
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
    const known = this.verified.get(token);
    if (known !== undefined) {
      // SECURITY: the remembered IP is the one the MAC binds the token to; any other IP is refused
      // here exactly as the full check would refuse it.
      if (known.expiresAt <= this.now()) {
        this.verified.delete(token);
        return false;
      }
      return known.ip === ip;
    }
    if (!this.verifyMac(token, ip)) return false;
    if (this.verified.size >= this.kept) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { ip, expiresAt: Number(token.slice(0, token.indexOf('.'))) });
    return true;
  }

  /** The full, stateless check: format, expiry, and the MAC over IP and expiry. */
  private verifyMac(token: string, ip: string): boolean {
    const m = /^(\d{13,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const expiresAt = Number(m[1]);
    if (expiresAt <= this.now()) return false;
    const want = Buffer.from(this.mac(ip, expiresAt));
    const got = Buffer.from(m[2]!);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
