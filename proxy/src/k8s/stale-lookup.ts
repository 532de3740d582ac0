/**
 * The PodLookup the proxy answers from. While the pod and namespace indexes are synced it is the
 * pod index itself. When a watch breaks (an API-server outage, a network blip), the indexes hold
 * what the API server last said; for a bounded window (PODIAM_STALE_INDEX_WINDOW_MS since the last
 * answer from the API server) an IP keeps resolving to the one pod that held it then, if that pod
 * was Running and not terminating. Unknown IPs, shared IPs and pods on their way out get
 * 'not-synced' (503 PODIAM_POD_INDEX_NOT_SYNCED) at once; after the window, everything does.
 *
 * Why stale answers are bounded, and what they cannot rule out (docs/security.md, "stale pod
 * index"): during the gap the proxy cannot learn that pod A was deleted and its IP given to a new
 * pod B. For B to get A's role in the window, A must be deleted, its sandbox torn down and the IP
 * released, and B scheduled here, started by the kubelet (which needs the API server) and handed
 * that very IP by the CNI, all within the window. host-local IPAM allocates loosely round-robin
 * within its range and the AWS VPC CNI holds a released address back for IP_COOLDOWN_PERIOD (30 s
 * by default), so the same IP rarely comes back within seconds; but a partial outage (the kubelet reaches the API server,
 * the proxy does not) and an IPAM that reuses at once make it possible. Hence: the window is
 * bounded (0 turns stale answers off), a pod already terminating is never answered for, and once
 * the index is synced again every IP that was answered from stale data is checked: if its pod no
 * longer holds it, that is logged and counted (the relist has already dropped the old pod's cached
 * credentials, so the new pod only ever gets its own).
 */
import type { Clock } from '../clock.ts';
import type { PodIndex, PodLookup, PodLookupResult, PodRecord } from './pod-index.ts';

/** What the lookup reads of each index besides the pods themselves. */
export interface SyncState {
  readonly synced: boolean;
  readonly everSynced: boolean;
  readonly staleSinceMs: number | undefined;
  whenSynced(): Promise<void>;
}

export type IndexFreshness =
  | { kind: 'fresh' }
  /** A watch broke ageMs after the last answer; known pods are still answered for. */
  | { kind: 'stale'; ageMs: number }
  /** Stale for longer than the window (or the window is 0): nothing is answered. */
  | { kind: 'expired'; ageMs: number }
  /** Never synced, or the age is unknown: nothing is answered. */
  | { kind: 'not-synced' };

export interface StaleLookupEvents {
  /** The first stale answer since the indexes were last synced. */
  staleStarted?(ageMs: number): void;
  staleAnswer?(pod: PodRecord): void;
  /** Synced again, and an IP answered from stale data no longer belongs to the pod it was answered for. */
  ownerChanged?(ip: string, served: PodRecord, now: PodLookupResult): void;
}

export interface StaleLookupOptions {
  pods: PodIndex;
  namespaces: SyncState;
  windowMs: number;
  clock: Clock;
  events?: StaleLookupEvents;
}

const NOT_SYNCED: PodLookupResult = Object.freeze({ kind: 'not-synced' });

export class StaleTolerantLookup implements PodLookup {
  /** IP → the pod answered for from stale data since the last sync; at most one entry per indexed pod. */
  private readonly servedStale = new Map<string, PodRecord>();

  constructor(private readonly o: StaleLookupOptions) {}

  freshness(): IndexFreshness {
    const parts: SyncState[] = [this.o.pods, this.o.namespaces];
    if (parts.every((p) => p.synced)) return { kind: 'fresh' };
    let since = Number.POSITIVE_INFINITY;
    for (const p of parts) {
      if (p.synced) continue;
      if (!p.everSynced || p.staleSinceMs === undefined) return { kind: 'not-synced' };
      since = Math.min(since, p.staleSinceMs);
    }
    const ageMs = Math.max(0, this.o.clock.now() - since);
    // The window runs from the last answer of the API server, not from when the break was noticed:
    // that is the age of the data. `<` with a window of 0 turns stale answers off entirely.
    return ageMs < this.o.windowMs ? { kind: 'stale', ageMs } : { kind: 'expired', ageMs };
  }

  /** Only while both indexes are fresh: anything else goes through find(). */
  findNow(ip: string): PodRecord | undefined {
    return this.o.pods.synced && this.o.namespaces.synced ? this.o.pods.findNow(ip) : undefined;
  }

  async find(ip: string, waitMs: number): Promise<PodLookupResult> {
    const f = this.freshness();
    if (f.kind === 'fresh') return this.o.pods.find(ip, waitMs);
    if (f.kind === 'stale') {
      const pod = this.o.pods.lookupStale(ip);
      if (!pod) return NOT_SYNCED;
      if (this.servedStale.size === 0) {
        this.o.events?.staleStarted?.(f.ageMs);
        void this.checkOnSync();
      }
      this.servedStale.set(ip, pod);
      this.o.events?.staleAnswer?.(pod);
      return { kind: 'pod', pod };
    }
    // A broken namespace watch makes decisions as unsafe as a broken pod watch. With namespaces
    // synced, the pod index waits (bounded) for its own relist as before.
    return this.o.namespaces.synced ? this.o.pods.find(ip, waitMs) : NOT_SYNCED;
  }

  private async checkOnSync(): Promise<void> {
    // Bounded: each round awaits a sync; the loop ends once both are synced at the same time.
    for (let i = 0; i < 1_000; i++) {
      await this.o.pods.whenSynced();
      await this.o.namespaces.whenSynced();
      if (this.o.pods.synced && this.o.namespaces.synced) break;
    }
    for (const [ip, served] of this.servedStale) {
      const now = this.o.pods.lookupNow(ip);
      if (now.kind !== 'pod' || now.pod.uid !== served.uid) this.o.events?.ownerChanged?.(ip, served, now);
    }
    this.servedStale.clear();
  }
}
