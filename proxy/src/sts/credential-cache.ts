/**
 * Credentials per pod, keyed by pod UID (never by IP: a reused IP must not inherit anything).
 *
 * - Single-flight: the in-flight Promise is cached, so concurrent misses share one AssumeRole;
 *   a rejected Promise is dropped so the next request starts afresh.
 * - Refresh ahead: a fetch is scheduled `margin` before expiry (25 min for one-hour sessions),
 *   and an answer is served from the cache only while it has `minValidity` left (20 min), so
 *   botocore (refreshes 15 min before expiry) and the JS SDK never come back early.
 * - STS down: cached credentials are still served while `graceValidity` (15 min) remains; then 503.
 * - STS not answering (network, 5xx, throttling) is retried with backoff for up to 30 s, in the
 *   background: the request waits at most `waitMs` and gets PODIAM_CREDENTIALS_PENDING meanwhile.
 * - STS refusing (AccessDenied: a wrong external ID, a trust without the node role) is retried
 *   only briefly (`refusalRetryMs`, for a role or trust created moments ago, which IAM makes
 *   assumable within seconds); the pod gets PODIAM_STS_FAILED naming STS's code at once, and the
 *   final refusal is remembered for `negativeCacheMs`, so the SDKs' retries cost no new calls.
 */
import { systemClock, type Clock } from '../clock.ts';
import { ProxyError } from '../errors.ts';
import { isRetriable, stsRefusalCode } from './gateway.ts';
import type { AssumeRequest, CredentialSource, IssuedCredentials } from './types.ts';

const MIN = 60_000;

export interface CacheTiming {
  /** Refresh this long before expiry (capped at half the session). */
  refreshMarginMs: number;
  /** Serve from cache only with at least this much validity left (capped at 0.8 × margin). */
  minValidityMs: number;
  /** When STS fails, serve cached credentials while this much validity is left (capped at 0.6 × margin). */
  graceValidityMs: number;
  /** Total time spent retrying one fetch. */
  retryDeadlineMs: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
  /** After a failed background refresh, try again this much later. */
  refreshRetryMs: number;
  /** Total time spent retrying a refusal (AccessDenied) before it counts as final. */
  refusalRetryMs: number;
  /** A final refusal is answered from memory, without calling STS, for this long. */
  negativeCacheMs: number;
}

export const DEFAULT_TIMING: CacheTiming = {
  refreshMarginMs: 25 * MIN,
  minValidityMs: 20 * MIN,
  graceValidityMs: 15 * MIN,
  retryDeadlineMs: 30_000,
  retryBaseMs: 250,
  retryMaxDelayMs: 5_000,
  refreshRetryMs: MIN,
  refusalRetryMs: 8_000,
  negativeCacheMs: 15_000,
};

export interface CacheEvents {
  hit?(): void;
  miss?(): void;
  stsCall?(): void;
  stsError?(err: unknown, uid: string, request: AssumeRequest): void;
  refreshFailed?(uid: string, err: unknown): void;
}

interface Entry {
  key: string;
  uid: string;
  request: AssumeRequest;
  current?: IssuedCredentials;
  inflight?: Promise<IssuedCredentials>;
  cancelTimer?: () => void;
  /** STS's code of the last refused attempt; cleared by a success. */
  refusal?: string;
  /** Until then, a final refusal is answered without a new AssumeRole. */
  refusedUntil?: number;
}

export interface CredentialCacheOptions {
  source: CredentialSource;
  clock?: Clock;
  timing?: Partial<CacheTiming>;
  events?: CacheEvents;
}

const keys = new WeakMap<AssumeRequest, string>();

/** The request's identity (role, external ID, duration, session name); memoised per request object. */
export function cacheKey(uid: string, r: AssumeRequest): string {
  let k = keys.get(r);
  if (k === undefined) {
    k = JSON.stringify([r.roleArn, r.externalId ?? '', r.durationSeconds, r.sessionName]);
    keys.set(r, k);
  }
  return `${uid}|${k}`;
}

/** The margins scaled to one session: short sessions refresh at half-life. */
export function windowFor(c: IssuedCredentials, t: CacheTiming): { refreshAt: number; minValidity: number; graceValidity: number } {
  const lifetime = c.expiration.getTime() - c.issuedAt.getTime();
  const margin = Math.min(t.refreshMarginMs, lifetime / 2);
  return {
    refreshAt: c.expiration.getTime() - margin,
    minValidity: Math.min(t.minValidityMs, margin * 0.8),
    graceValidity: Math.min(t.graceValidityMs, margin * 0.6),
  };
}

export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  /** Pods whose next AssumeRole must wait until this time (after a revocation cut-off). */
  private readonly holds = new Map<string, number>();
  private readonly source: CredentialSource;
  private readonly clock: Clock;
  private readonly timing: CacheTiming;
  private readonly events: CacheEvents;

  constructor(options: CredentialCacheOptions) {
    this.source = options.source;
    this.clock = options.clock ?? systemClock;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.events = options.events ?? {};
  }

  get size(): number {
    return this.entries.size;
  }

  /** Credentials for the pod, waiting at most waitMs for STS. Throws ProxyError 503s. */
  async get(uid: string, request: AssumeRequest, waitMs: number): Promise<IssuedCredentials> {
    const entry = this.entryFor(uid, request);
    const now = this.clock.now();
    if (entry.current && this.remaining(entry.current, now) >= windowFor(entry.current, this.timing).minValidity) {
      this.events.hit?.();
      return entry.current;
    }
    this.events.miss?.();
    if (!entry.inflight && entry.refusal && (entry.refusedUntil ?? 0) > now) {
      const stale = this.stillGood(entry);
      if (stale) return stale;
      throw refused(request, entry.refusal);
    }
    const pending = entry.inflight ?? this.start(entry);
    let timedOut = false;
    let cancel: (() => void) | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      cancel = this.clock.schedule(waitMs, () => {
        timedOut = true;
        resolve(undefined);
      });
    });
    try {
      const got = await Promise.race([pending, timeout]);
      if (got) return got;
    } catch (err) {
      const stale = this.stillGood(entry);
      if (stale) return stale;
      const code = stsRefusalCode(err);
      if (code) throw refused(request, code, err);
      throw new ProxyError('PODIAM_STS_FAILED', `AssumeRole of ${request.roleArn} failed`, { cause: err });
    } finally {
      cancel?.();
    }
    const stale = this.stillGood(entry);
    if (stale) return stale;
    // STS already said no and a short retry is under way: the pod learns why, not "pending".
    if (entry.refusal) throw refused(request, entry.refusal);
    throw new ProxyError('PODIAM_CREDENTIALS_PENDING', timedOut ? `no answer from STS for ${request.roleArn} within ${waitMs} ms` : undefined);
  }

  /** Starts a fetch for a pod that has not asked yet (a pod with a role just appeared). */
  prefetch(uid: string, request: AssumeRequest): void {
    const entry = this.entryFor(uid, request);
    if (entry.current || entry.inflight || (entry.refusedUntil ?? 0) > this.clock.now()) return;
    this.start(entry).catch(() => {
      // Reported through events.stsError; the pod's own request will try again.
    });
  }

  /** The pod is gone: forget its credentials and stop refreshing them. */
  evict(uid: string): void {
    const entry = this.entries.get(uid);
    if (!entry) return;
    entry.cancelTimer?.();
    this.entries.delete(uid);
    this.holds.delete(uid);
  }

  /**
   * Sessions issued before `beforeMs` were revoked: forget them (and any fetch under way, which
   * may have been issued before the cut too) so the next prefetch or request gets fresh ones.
   * Returns whether anything was dropped.
   */
  evictIssuedBefore(uid: string, beforeMs: number): boolean {
    const entry = this.entries.get(uid);
    if (!entry) return false;
    if (entry.current && entry.current.issuedAt.getTime() >= beforeMs) return false;
    if (!entry.current && !entry.inflight) return false;
    this.evict(uid);
    // IAM compares aws:TokenIssueTime with the revocation time in whole seconds: a session
    // issued within the cut-off's second may still count as revoked, so wait for the next one.
    const holdUntil = Math.floor(beforeMs / 1000) * 1000 + 1000;
    if (holdUntil > this.clock.now()) this.holds.set(uid, holdUntil);
    return true;
  }

  clear(): void {
    for (const uid of [...this.entries.keys()]) this.evict(uid);
  }

  private entryFor(uid: string, request: AssumeRequest): Entry {
    const existing = this.entries.get(uid);
    // Hot path: the caller hands back the same (memoised) request object for an unchanged pod.
    if (existing && existing.request === request) return existing;
    const key = cacheKey(uid, request);
    if (existing && existing.key === key) return existing;
    // Same pod, different role (annotations are mutable): nothing of the old role carries over.
    if (existing) this.evict(uid);
    const entry: Entry = { key, uid, request };
    this.entries.set(uid, entry);
    return entry;
  }

  private remaining(c: IssuedCredentials, now: number): number {
    return c.expiration.getTime() - now;
  }

  private stillGood(entry: Entry): IssuedCredentials | undefined {
    const c = entry.current;
    if (c && this.remaining(c, this.clock.now()) >= windowFor(c, this.timing).graceValidity) return c;
    return undefined;
  }

  private live(entry: Entry): boolean {
    return this.entries.get(entry.uid) === entry;
  }

  private start(entry: Entry): Promise<IssuedCredentials> {
    const p = this.fetchWithRetry(entry).then(
      (creds) => {
        if (this.live(entry)) {
          entry.current = creds;
          entry.inflight = undefined;
          entry.refusal = undefined;
          entry.refusedUntil = undefined;
          this.scheduleRefresh(entry, windowFor(creds, this.timing).refreshAt - this.clock.now());
        }
        return creds;
      },
      (err: unknown) => {
        if (this.live(entry)) {
          entry.inflight = undefined;
          if (entry.refusal) entry.refusedUntil = this.clock.now() + this.timing.negativeCacheMs;
          if (entry.current) {
            this.events.refreshFailed?.(entry.uid, err);
            this.scheduleRefresh(entry, this.timing.refreshRetryMs);
          }
        }
        throw err;
      },
    );
    entry.inflight = p;
    return p;
  }

  private scheduleRefresh(entry: Entry, inMs: number): void {
    entry.cancelTimer?.();
    entry.cancelTimer = this.clock.schedule(inMs, () => {
      entry.cancelTimer = undefined;
      if (!this.live(entry) || entry.inflight) return;
      // A refresh nobody waits for: its failure is reported through events.
      this.start(entry).catch(() => undefined);
    });
  }

  private async fetchWithRetry(entry: Entry): Promise<IssuedCredentials> {
    const hold = this.holds.get(entry.uid);
    if (hold !== undefined) {
      this.holds.delete(entry.uid);
      if (hold > this.clock.now()) await this.clock.sleep(hold - this.clock.now());
    }
    const started = this.clock.now();
    for (let attempt = 0; ; attempt++) {
      try {
        this.events.stsCall?.();
        return await this.source.assume(entry.request);
      } catch (err) {
        this.events.stsError?.(err, entry.uid, entry.request);
        const refusal = stsRefusalCode(err);
        // A success in between clears it; a later network error does not make STS's "no" a "maybe".
        if (refusal) entry.refusal = refusal;
        const deadline = started + (refusal ? this.timing.refusalRetryMs : this.timing.retryDeadlineMs);
        const delay = Math.min(this.timing.retryMaxDelayMs, this.timing.retryBaseMs * 2 ** attempt);
        if (!isRetriable(err) || !this.live(entry) || this.clock.now() + delay > deadline) throw err;
        await this.clock.sleep(delay);
      }
    }
  }
}

function refused(request: AssumeRequest, code: string, cause?: unknown): ProxyError {
  return new ProxyError('PODIAM_STS_FAILED', `STS refused AssumeRole of ${request.roleArn} with ${code}`, cause === undefined ? {} : { cause });
}
