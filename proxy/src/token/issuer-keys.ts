/**
 * The service-account issuer's public keys, as the API server publishes them (OIDC discovery:
 * /.well-known/openid-configuration for the issuer, /openid/v1/jwks for the keys), read with the
 * proxy's own credentials (ClusterRole system:service-account-issuer-discovery).
 *
 * Rotation: a token naming a key ID not in the set makes the set be read again, at most once per
 * `minRefetchMs` (so a flood of made-up key IDs costs the API server one read per interval, not
 * one per request); the set is also read again every `refreshMs`, so a retired key stops
 * verifying new tokens within that time. Tokens signed by a key that is still published keep
 * verifying until they expire: that is how the API server rotates (old and new keys both listed).
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { KubeClient } from '../k8s/api-client.ts';

export interface IssuerDocument {
  issuer: string;
  keys: JsonWebKey[];
}

/** Reads the issuer and its keys; the proxy's is the API server (apiServerIssuer). */
export type IssuerSource = () => Promise<IssuerDocument>;

export interface IssuerKeysOptions {
  source: IssuerSource;
  clock: Clock;
  /** Fixed issuer (PODIAM_TOKEN_ISSUER); default: the discovery document's. */
  issuer?: string | undefined;
  minRefetchMs?: number;
  refreshMs?: number;
  events?: { refreshed?(keys: number): void; failed?(err: unknown): void };
}

interface KeySet {
  issuer: string;
  byKid: Map<string, KeyObject>;
  /** Keys published without a kid: tried for tokens whose kid matches none. */
  anonymous: KeyObject[];
  readAtMs: number;
}

function keySet(doc: IssuerDocument, readAtMs: number): KeySet {
  const byKid = new Map<string, KeyObject>();
  const anonymous: KeyObject[] = [];
  for (const jwk of doc.keys) {
    // Signing keys only: an encryption key (use: enc) or a private key never verifies a token.
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.d !== undefined) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      continue;
    }
    if (typeof jwk.kid === 'string' && jwk.kid !== '') byKid.set(jwk.kid, key);
    else anonymous.push(key);
  }
  return { issuer: doc.issuer, byKid, anonymous, readAtMs };
}

export class IssuerKeys {
  private current: KeySet | undefined;
  private reading: Promise<KeySet> | undefined;
  private readonly minRefetchMs: number;
  private readonly refreshMs: number;

  constructor(private readonly o: IssuerKeysOptions) {
    this.minRefetchMs = o.minRefetchMs ?? 10_000;
    this.refreshMs = o.refreshMs ?? 10 * 60_000;
  }

  /** The issuer tokens must name; throws when it cannot be read. */
  async issuer(): Promise<string> {
    return this.o.issuer ?? (await this.fresh()).issuer;
  }

  /** The keys that may have signed a token with this kid: none is a refusal. */
  async keysFor(kid: string): Promise<KeyObject[]> {
    let set = await this.fresh();
    let found = this.lookup(set, kid);
    if (found.length === 0 && this.o.clock.now() - set.readAtMs >= this.minRefetchMs) {
      // Unknown key: perhaps the issuer has just rotated. Read again (rate-limited above).
      set = await this.read();
      found = this.lookup(set, kid);
    }
    return found;
  }

  private lookup(set: KeySet, kid: string): KeyObject[] {
    const key = kid ? set.byKid.get(kid) : undefined;
    if (key) return [key];
    // A kid the set does not hold can only match a key published without one.
    return kid ? set.anonymous : [...set.anonymous, ...set.byKid.values()];
  }

  private async fresh(): Promise<KeySet> {
    const set = this.current;
    if (set && this.o.clock.now() - set.readAtMs < this.refreshMs) return set;
    try {
      return await this.read();
    } catch (err) {
      // Keep verifying with the keys already known when a periodic refresh fails.
      if (set) return set;
      throw err;
    }
  }

  private read(): Promise<KeySet> {
    this.reading ??= (async () => {
      try {
        const set = keySet(await this.o.source(), this.o.clock.now());
        this.current = set;
        this.o.events?.refreshed?.(set.byKid.size + set.anonymous.length);
        return set;
      } catch (err) {
        this.o.events?.failed?.(err);
        throw err;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}

const MAX_DOCUMENT_BYTES = 1024 * 1024;

// The API server negotiates: /openid/v1/jwks answers only application/jwk-set+json (406 to
// application/json alone), the discovery document only application/json.
const ACCEPT = 'application/jwk-set+json, application/json';

/** The API server's own discovery documents, read with the proxy's credentials (bounded in size and time). */
export function apiServerIssuer(client: KubeClient, timeoutMs = 5000): IssuerSource {
  const get = (path: string): Promise<unknown> => client.getJson(path, { timeoutMs, accept: ACCEPT, maxBytes: MAX_DOCUMENT_BYTES });
  return async () => {
    const [discovery, jwks] = await Promise.all([get('/.well-known/openid-configuration'), get('/openid/v1/jwks')]);
    const issuer = (discovery as { issuer?: unknown } | null)?.issuer;
    const keys = (jwks as { keys?: unknown } | null)?.keys;
    if (typeof issuer !== 'string' || issuer === '') throw new Error('the discovery document names no issuer');
    if (!Array.isArray(keys)) throw new Error('the JWKS document has no keys');
    return { issuer, keys: keys as JsonWebKey[] };
  };
}
