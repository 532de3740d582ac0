/**
 * A projected service-account token, checked: pure, no I/O. The signature is checked against a
 * key the caller looks up by the token's `kid` (proxy/src/token/issuer-keys.ts); then issuer,
 * audience, expiry and the pod binding are read from the claims. Every outcome is a value: a
 * bound token, or a refusal with its stable code and the reason.
 *
 * Only what the Kubernetes service-account issuer produces is accepted: compact JWS, RS256 or
 * ES256 (RSA or P-256 signing keys). `alg: none`, HMAC and every other algorithm are refused
 * before any key is looked at, so a token cannot choose how it is verified.
 */
import { createHash, verify as verifySignature, type KeyObject } from 'node:crypto';

/** What a verified token says about its pod (the `kubernetes.io` claim of a bound token). */
export interface BoundToken {
  namespace: string;
  podName: string;
  podUid: string;
  serviceAccount: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type TokenRefusalCode =
  | 'PODIAM_TOKEN_MISSING'
  | 'PODIAM_TOKEN_INVALID'
  | 'PODIAM_TOKEN_EXPIRED'
  | 'PODIAM_TOKEN_AUDIENCE_MISMATCH'
  | 'PODIAM_TOKEN_NOT_POD_BOUND';

export type TokenCheck = { kind: 'bound'; token: BoundToken } | { kind: 'refused'; code: TokenRefusalCode; reason: string };

export interface ParsedToken {
  alg: 'RS256' | 'ES256';
  kid: string;
  signingInput: Buffer;
  signature: Buffer;
  claims: Record<string, unknown>;
}

const ALGORITHMS = new Set(['RS256', 'ES256']);
/** Service-account tokens are a few hundred bytes to ~2 KiB; anything far larger is not one. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const B64URL = /^[A-Za-z0-9_-]*$/;

const refused = (code: TokenRefusalCode, reason: string): TokenCheck => ({ kind: 'refused', code, reason });

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits and decodes; undefined for anything that is not a compact JWS of an accepted algorithm. */
export function parseToken(raw: string): ParsedToken | undefined {
  if (raw.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = raw.split('.');
  if (parts.length !== 3 || !parts.every((p) => p.length > 0 && B64URL.test(p))) return undefined;
  const header = decodeJson(parts[0]!);
  const claims = decodeJson(parts[1]!);
  if (!header || !claims) return undefined;
  // The algorithm is fixed by the key type below; the header only has to agree with it.
  if (typeof header.alg !== 'string' || !ALGORITHMS.has(header.alg)) return undefined;
  const kid = typeof header.kid === 'string' ? header.kid : '';
  return { alg: header.alg as ParsedToken['alg'], kid, signingInput: Buffer.from(`${parts[0]}.${parts[1]}`), signature: Buffer.from(parts[2]!, 'base64url'), claims };
}

/** Whether key signed the token with the token's algorithm (and the key is of that algorithm's type). */
export function signatureValid(token: ParsedToken, key: KeyObject): boolean {
  if (token.alg === 'RS256' && key.asymmetricKeyType !== 'rsa') return false;
  if (token.alg === 'ES256' && (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) return false;
  try {
    // JWS ES256 signatures are r||s (IEEE P1363), not DER.
    return verifySignature('sha256', token.signingInput, token.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, token.signature);
  } catch {
    return false;
  }
}

export interface ClaimRules {
  issuer: string;
  audience: string;
  /** Seconds since the epoch. */
  nowSeconds: number;
  /** Allowed clock difference with the API server, seconds. */
  leewaySeconds: number;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The claims of a token whose signature has been checked: issuer, audience, time, pod binding. */
export function checkClaims(claims: Record<string, unknown>, rules: ClaimRules): TokenCheck {
  if (claims.iss !== rules.issuer) return refused('PODIAM_TOKEN_INVALID', `the token's issuer ${JSON.stringify(claims.iss)} is not the cluster's (${rules.issuer})`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(rules.audience)) return refused('PODIAM_TOKEN_AUDIENCE_MISMATCH', `the token's audience ${JSON.stringify(claims.aud)} does not include ${rules.audience}`);
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return refused('PODIAM_TOKEN_INVALID', 'the token has no expiry');
  if (exp + rules.leewaySeconds <= rules.nowSeconds) return refused('PODIAM_TOKEN_EXPIRED', `the token expired at ${new Date(exp * 1000).toISOString()}`);
  const nbf = claims.nbf;
  if (typeof nbf === 'number' && nbf - rules.leewaySeconds > rules.nowSeconds) return refused('PODIAM_TOKEN_INVALID', 'the token is not valid yet');
  const k8s = obj(claims['kubernetes.io']);
  const namespace = str(k8s?.namespace);
  const pod = obj(k8s?.pod);
  const podName = str(pod?.name);
  const podUid = str(pod?.uid);
  const serviceAccount = str(obj(k8s?.serviceaccount)?.name);
  if (!namespace || !serviceAccount) return refused('PODIAM_TOKEN_INVALID', 'the token is not a Kubernetes service-account token');
  if (!podName || !podUid) return refused('PODIAM_TOKEN_NOT_POD_BOUND', 'the token is not bound to a pod');
  return { kind: 'bound', token: { namespace, podName, podUid, serviceAccount, expiresAt: exp } };
}

/** The cache key of a token: its SHA-256, so the cache never holds a token itself. */
export function tokenDigest(raw: string): string {
  return createHash('sha256').update(raw).digest('base64url');
}
