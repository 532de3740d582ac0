/**
 * Verifies projected service-account tokens: signature (IssuerKeys), then issuer, audience,
 * expiry and pod binding (jwt.ts). A verified token is kept by its SHA-256 until it expires, so a
 * pod asking again costs one hash and one map read; refusals are not kept (a token that was
 * refused because a key was not yet published may verify a moment later).
 */
import type { Clock } from '../clock.ts';
import { ProxyError } from '../errors.ts';
import type { IssuerKeys } from './issuer-keys.ts';
import { checkClaims, parseToken, signatureValid, tokenDigest, type BoundToken, type TokenCheck } from './jwt.ts';

export interface TokenVerifierOptions {
  keys: IssuerKeys;
  audience: string;
  clock: Clock;
  leewaySeconds?: number;
  /** Verified tokens kept at most; the oldest go first. */
  maxCached?: number;
}

export class TokenVerifier {
  private readonly verified = new Map<string, BoundToken>();
  private readonly maxCached: number;

  constructor(private readonly o: TokenVerifierOptions) {
    this.maxCached = o.maxCached ?? 20_000;
  }

  get cachedCount(): number {
    return this.verified.size;
  }

  /** The cached verification of a token, when there is one and it has not expired. Synchronous. */
  verifiedNow(raw: string): BoundToken | undefined {
    return this.known(tokenDigest(raw));
  }

  private known(digest: string): BoundToken | undefined {
    const token = this.verified.get(digest);
    if (!token) return undefined;
    if (token.expiresAt * 1000 <= this.o.clock.now()) {
      this.verified.delete(digest);
      return undefined;
    }
    return token;
  }

  /** Full verification; throws PODIAM_TOKEN_KEYS_UNAVAILABLE when the issuer's keys cannot be read. */
  async verify(raw: string): Promise<TokenCheck> {
    const digest = tokenDigest(raw);
    const cached = this.known(digest);
    if (cached) return { kind: 'bound', token: cached };
    const parsed = parseToken(raw);
    if (!parsed) return { kind: 'refused', code: 'PODIAM_TOKEN_INVALID', reason: 'the token is not a signed JWT of an accepted algorithm (RS256, ES256)' };
    let issuer: string;
    let keys;
    try {
      issuer = await this.o.keys.issuer();
      keys = await this.o.keys.keysFor(parsed.kid);
    } catch (cause) {
      throw new ProxyError('PODIAM_TOKEN_KEYS_UNAVAILABLE', undefined, { cause });
    }
    // SECURITY: the signature is checked before any claim is believed.
    if (!keys.some((key) => signatureValid(parsed, key))) {
      return { kind: 'refused', code: 'PODIAM_TOKEN_INVALID', reason: `the token's signature does not verify with any key the issuer publishes (kid ${JSON.stringify(parsed.kid)})` };
    }
    const check = checkClaims(parsed.claims, { issuer, audience: this.o.audience, nowSeconds: this.o.clock.now() / 1000, leewaySeconds: this.o.leewaySeconds ?? 5 });
    if (check.kind === 'bound') this.remember(digest, check.token);
    return check;
  }

  private remember(digest: string, token: BoundToken): void {
    if (this.verified.size >= this.maxCached) {
      const now = this.o.clock.now();
      for (const [k, t] of this.verified) if (t.expiresAt * 1000 <= now) this.verified.delete(k);
      // Still full: drop the oldest entry (Map keeps insertion order).
      if (this.verified.size >= this.maxCached) this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(digest, token);
  }
}
