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
 * - At most `concurrency` AssumeRole calls are in flight at once, for the whole node: 1,000 pods
 *   appearing together (a restart on a full node, a large rollout) must not become 1,000
 *   concurrent calls, which STS throttles account-wide (every other caller in the account then
 *   fails too) and which, timing out, retried into tens of thousands. Calls beyond the limit
 *   queue; a pod that is asking jumps ahead of prefetches and refreshes nobody waits for.
 * - STS refusing (AccessDenied: a wrong external ID, a trust without the node role) is retried
 *   only briefly (`refusalRetryMs`, for a role or trust created moments ago, which IAM makes
 *   assumable within seconds); the pod gets PODIAM_STS_FAILED naming STS's code at once, and the
 *   final refusal is remembered for `negativeCacheMs`, so the SDKs' retries cost no new calls.
 */
import { systemClock, type Clock } from '../clock.ts';
import { DEFAULT_PREFETCH_CONCURRENCY } from '../config.ts';
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
  /** Attempts of one fetch, the first included. Each delay is jittered (half to all of it). */
  maxAttempts: number;
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
  maxAttempts: 8,
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
  /** A request waits for this entry: its AssumeRole attempts go ahead of background ones. */
  asking?: boolean;
  /** Set while an attempt waits for a free slot. */
  queued?: Waiter;
}

interface Waiter {
  entry: Entry;
  start(): void;
  /** Taken off its queue (started, or moved to the urgent queue). */
  done: boolean;
}

/** A FIFO with O(1) removal from the front, for thousands of queued pods. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    // Emptied: let go of everything it held (after a burst of 1,000 prefetches, 1,000 waiters).
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}


export interface CredentialCacheOptions {
  source: CredentialSource;
  clock?: Clock;
  timing?: Partial<CacheTiming>;
  events?: CacheEvents;
  /** AssumeRole calls in flight at once, asking pods first (default DEFAULT_PREFETCH_CONCURRENCY). */
  concurrency?: number;
  /** Jitter source in [0, 1); tests pass a fixed one. */
  random?: () => number;
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
  private readonly concurrency: number;
  private readonly random: () => number;
  private running = 0;
  private waiting = 0;
  private readonly urgent = new Fifo<Waiter>();
  private readonly background = new Fifo<Waiter>();

  constructor(options: CredentialCacheOptions) {
    this.source = options.source;
    this.clock = options.clock ?? systemClock;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.events = options.events ?? {};
    this.concurrency = options.concurrency ?? DEFAULT_PREFETCH_CONCURRENCY;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`concurrency must be a whole number of at least 1, not ${this.concurrency}`);
    this.random = options.random ?? Math.random;
  }

  get size(): number {
    return this.entries.size;
  }

  /** AssumeRole calls under way now, and attempts waiting for a slot. */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.running, queued: this.waiting };
  }

  /**
   * Fresh cached credentials for the pod, or undefined. Synchronous: the hot path answers without
   * a promise or a microtask per request.
   */
  cached(uid: string, request: AssumeRequest): IssuedCredentials | undefined {
    const current = this.entryFor(uid, request).current;
    if (current && this.remaining(current, this.clock.now()) >= windowFor(current, this.timing).minValidity) {
      this.events.hit?.();
      return current;
    }
    return undefined;
  }

  /** Credentials for the pod, waiting at most waitMs for STS. Throws ProxyError 503s. */
  async get(uid: string, request: AssumeRequest, waitMs: number): Promise<IssuedCredentials> {
    const fresh = this.cached(uid, request);
    if (fresh) return fresh;
    const entry = this.entryFor(uid, request);
    const now = this.clock.now();
    this.events.miss?.();
    if (!entry.inflight && entry.refusal && (entry.refusedUntil ?? 0) > now) {
      const stale = this.stillGood(entry);
      if (stale) return stale;
      throw refused(request, entry.refusal);
    }
    this.promote(entry);
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
    if (existing && existing.key === key) {
      // An equal request in a new object (the pod's record changed, e.g. Pending → Running): keep
      // the newer one, so the hot path's identity check hits again and the older one is freed.
      // The key holds the role, external ID, duration and session name; the session tags are the
      // pod's name, namespace, UID and service account, none of which a pod UID can change.
      existing.request = request;
      return existing;
    }
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
          entry.asking = false;
          entry.refusal = undefined;
          entry.refusedUntil = undefined;
          this.scheduleRefresh(entry, windowFor(creds, this.timing).refreshAt - this.clock.now());
        }
        return creds;
      },
      (err: unknown) => {
        if (this.live(entry)) {
          entry.inflight = undefined;
          entry.asking = false;
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
      await this.slot(entry);
      let err: unknown;
      try {
        // The pod may have gone while it queued: its slot goes to the next one.
        if (!this.live(entry)) throw new ProxyError('PODIAM_CREDENTIALS_PENDING', 'the pod went away before its AssumeRole started');
        this.events.stsCall?.();
        return await this.source.assume(entry.request);
      } catch (caught) {
        err = caught;
      } finally {
        // Also before a backoff: waiting to retry must not hold back other pods' calls.
        this.releaseSlot();
      }
      if (!this.live(entry)) throw err;
      this.events.stsError?.(err, entry.uid, entry.request);
      const refusal = stsRefusalCode(err);
      // A success in between clears it; a later network error does not make STS's "no" a "maybe".
      if (refusal) entry.refusal = refusal;
      const deadline = started + (refusal ? this.timing.refusalRetryMs : this.timing.retryDeadlineMs);
      // Half to all of the exponential delay: pods that failed together do not retry together.
      const cap = Math.min(this.timing.retryMaxDelayMs, this.timing.retryBaseMs * 2 ** attempt);
      const delay = cap / 2 + (cap / 2) * this.random();
      if (!isRetriable(err) || attempt + 1 >= this.timing.maxAttempts || this.clock.now() + delay > deadline) throw err;
      await this.clock.sleep(delay);
    }
  }

  /** Resolves when this entry may start an AssumeRole call: at once while fewer than `concurrency` run. */
  private slot(entry: Entry): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { entry, start: resolve, done: false };
      entry.queued = waiter;
      this.waiting++;
      (entry.asking ? this.urgent : this.background).push(waiter);
    });
  }

  /** Hands the finished call's slot to the next waiter, asking pods first. */
  private releaseSlot(): void {
    for (let i = 0; i < 1_000_000; i++) {
      const next = this.urgent.shift() ?? this.background.shift();
      if (!next) break;
      if (next.done) continue;
      next.done = true;
      next.entry.queued = undefined;
      this.waiting--;
      // The slot passes on: `running` stays as it is.
      next.start();
      return;
    }
    this.running--;
  }

  /** A pod is asking: from now on its attempts go ahead of prefetches and background refreshes. */
  private promote(entry: Entry): void {
    entry.asking = true;
    const waiter = entry.queued;
    if (!waiter || waiter.done) return;
    waiter.done = true;
    const moved: Waiter = { entry, start: waiter.start, done: false };
    entry.queued = moved;
    this.urgent.push(moved);
  }
}

function refused(request: AssumeRequest, code: string, cause?: unknown): ProxyError {
  return new ProxyError('PODIAM_STS_FAILED', `STS refused AssumeRole of ${request.roleArn} with ${code}`, cause === undefined ? {} : { cause });
}
