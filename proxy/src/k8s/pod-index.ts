/**
 * Pods of this node by IP. Pure: fed by the reflector (list + watch), read by request handlers.
 * Only what a decision needs is kept (not the whole pod object), so 10,000 pods stay small.
 *
 * - hostNetwork pods share the node's IP and finished pods (Succeeded/Failed) may have handed
 *   their IP on: neither is indexed.
 * - A pod scheduled here but without an IP yet (Pending, its sandbox being created) is kept, with
 *   ip '', and reachable by no IP: its credentials can be fetched before it runs, so its first
 *   request finds them cached.
 * - Two live pods claiming one IP: find() answers 'conflict' and the caller serves neither.
 * - Until the first list has completed, or while the watch is broken, find() answers 'not-synced'
 *   rather than anything that might be stale. lookupStale() is the one door to stale data; the
 *   proxy opens it for a bounded window only (proxy/src/k8s/stale-lookup.ts).
 */
import { Store, type StoreChange } from './store.ts';

export interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  /** '' until the pod has an IP. */
  ip: string;
  serviceAccount: string;
  annotations: Record<string, string>;
  /**
   * Running and not being deleted when last seen: only such a pod may still be answered for
   * while the index is stale (see lookupStale).
   */
  liveWhenSeen: boolean;
}

/** The parts of a V1Pod the index reads (the watch delivers plain JSON of this shape). */
export interface PodObject {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string> | undefined; resourceVersion?: string; deletionTimestamp?: Date | string | undefined };
  spec?: { hostNetwork?: boolean; serviceAccountName?: string; nodeName?: string };
  status?: { phase?: string; podIP?: string };
}

export type PodLookupResult =
  | { kind: 'pod'; pod: PodRecord }
  | { kind: 'unknown' }
  | { kind: 'conflict'; pods: PodRecord[] }
  | { kind: 'not-synced' };

/** What request handlers need. */
export interface PodLookup {
  find(ip: string, waitMs: number): Promise<PodLookupResult>;
  /** The one pod at ip when that is known at once and from fresh data; undefined sends the caller to find(). */
  findNow?(ip: string): PodRecord | undefined;
}

export type PodChange = StoreChange<PodRecord>;

/** Returns the record to index, or undefined when this pod must not be served. */
export function podRecord(obj: PodObject): PodRecord | undefined {
  const m = obj.metadata;
  if (!m?.uid || !m.name || !m.namespace) return undefined;
  if (obj.spec?.hostNetwork) return undefined;
  const phase = obj.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ip = obj.status?.podIP ?? '';
  const liveWhenSeen = phase === 'Running' && !m.deletionTimestamp;
  return { uid: m.uid, name: m.name, namespace: m.namespace, ip, serviceAccount: obj.spec?.serviceAccountName ?? 'default', annotations: iamAnnotations(m.annotations), liveWhenSeen };
}

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Only the iam.amazonaws.com/* annotations: all a decision reads, and far less to keep per pod. */
function iamAnnotations(all: Record<string, string> | undefined): Record<string, string> {
  if (!all) return NONE;
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(all)) {
    if (key.startsWith('iam.amazonaws.com/')) (out ??= {})[key] = all[key]!;
  }
  return out ?? NONE;
}

const UNKNOWN: PodLookupResult = Object.freeze({ kind: 'unknown' });
const NOT_SYNCED: PodLookupResult = Object.freeze({ kind: 'not-synced' });

function sameRecord(a: PodRecord, b: PodRecord): boolean {
  if (a.name !== b.name || a.namespace !== b.namespace || a.ip !== b.ip || a.serviceAccount !== b.serviceAccount || a.liveWhenSeen !== b.liveWhenSeen) return false;
  const ka = Object.keys(a.annotations);
  const kb = Object.keys(b.annotations);
  return ka.length === kb.length && ka.every((k) => a.annotations[k] === b.annotations[k]);
}

/** The store keyed by uid, plus the IP → pods index that requests read. */
export class PodIndex extends Store<PodObject, PodRecord> implements PodLookup {
  private readonly byIp = new Map<string, string[]>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor() {
    super({ key: (obj) => obj.metadata?.uid || undefined, record: podRecord, equal: sameRecord });
  }

  all(): IterableIterator<PodRecord> {
    return this.values();
  }

  lookupNow(ip: string): PodLookupResult {
    if (!this.synced) return NOT_SYNCED;
    const uids = this.byIp.get(ip);
    if (!uids || uids.length === 0) return UNKNOWN;
    if (uids.length === 1) return { kind: 'pod', pod: this.get(uids[0]!)! };
    return { kind: 'conflict', pods: uids.map((u) => this.get(u)!) };
  }

  findNow(ip: string): PodRecord | undefined {
    if (!this.synced) return undefined;
    const uids = this.byIp.get(ip);
    return uids?.length === 1 ? this.get(uids[0]!) : undefined;
  }

  /**
   * The pod last known at ip while the index is not synced, for the stale window only (the caller
   * bounds its age). Undefined unless the index was synced once, exactly one pod holds the IP,
   * and that pod was Running and not terminating when last seen: a pod already on its way out
   * may hand its IP on during the gap, so it is never answered for from stale data.
   */
  lookupStale(ip: string): PodRecord | undefined {
    if (!this.everSynced) return undefined;
    const uids = this.byIp.get(ip);
    if (uids?.length !== 1) return undefined;
    const pod = this.get(uids[0]!);
    return pod?.liveWhenSeen ? pod : undefined;
  }

  /** A pod that has just started may not be indexed yet: wait (bounded) for it to appear. */
  async find(ip: string, waitMs: number): Promise<PodLookupResult> {
    const now = this.lookupNow(ip);
    if (now.kind === 'pod' || now.kind === 'conflict' || waitMs <= 0) return now;
    return new Promise<PodLookupResult>((resolve) => {
      const done = (): void => {
        const r = this.lookupNow(ip);
        if (r.kind === 'pod' || r.kind === 'conflict') finish(r);
      };
      const timer = setTimeout(() => finish(this.lookupNow(ip)), waitMs);
      const finish = (r: PodLookupResult): void => {
        clearTimeout(timer);
        const set = this.waiters.get(ip);
        set?.delete(done);
        if (set?.size === 0) this.waiters.delete(ip);
        resolve(r);
      };
      let set = this.waiters.get(ip);
      if (!set) this.waiters.set(ip, (set = new Set()));
      set.add(done);
    });
  }

  protected override indexChange(change: PodChange): void {
    if (change.type === 'deleted') return this.unlinkIp(change.previous.ip, change.key);
    if (change.type === 'updated' && change.previous.ip !== change.record.ip) this.unlinkIp(change.previous.ip, change.key);
    // No IP yet: nothing to find it by (and never by '', whatever a socket reports).
    if (!change.record.ip) return;
    const uids = this.byIp.get(change.record.ip) ?? [];
    if (!uids.includes(change.key)) uids.push(change.key);
    this.byIp.set(change.record.ip, uids);
    const set = this.waiters.get(change.record.ip);
    if (set) for (const w of [...set]) w();
  }

  protected override becameSynced(): void {
    for (const set of this.waiters.values()) for (const w of [...set]) w();
  }

  private unlinkIp(ip: string, uid: string): void {
    if (!ip) return;
    const uids = this.byIp.get(ip);
    if (!uids) return;
    const rest = uids.filter((u) => u !== uid);
    if (rest.length) this.byIp.set(ip, rest);
    else this.byIp.delete(ip);
  }
}
