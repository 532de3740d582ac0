/**
 * Pods of this node by IP. Pure: fed by the reflector (list + watch), read by request handlers.
 * Only what a decision needs is kept (not the whole pod object), so 10,000 pods stay small.
 *
 * - hostNetwork pods share the node's IP and finished pods (Succeeded/Failed) may have handed
 *   their IP on: neither is indexed.
 * - Two live pods claiming one IP: find() answers 'conflict' and the caller serves neither.
 * - Until the first list has completed, or while the watch is broken, find() answers 'not-synced'
 *   rather than anything that might be stale.
 */
export interface PodRecord {
  uid: string;
  name: string;
  namespace: string;
  ip: string;
  serviceAccount: string;
  annotations: Record<string, string>;
}

/** The parts of a V1Pod the index reads (the watch delivers plain JSON of this shape). */
export interface PodObject {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string> | undefined; resourceVersion?: string };
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
}

export type PodChange = { type: 'upsert'; pod: PodRecord } | { type: 'delete'; uid: string };

/** Returns the record to index, or undefined when this pod must not be served. */
export function podRecord(obj: PodObject): PodRecord | undefined {
  const m = obj.metadata;
  if (!m?.uid || !m.name || !m.namespace) return undefined;
  if (obj.spec?.hostNetwork) return undefined;
  const phase = obj.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ip = obj.status?.podIP;
  if (!ip) return undefined;
  return { uid: m.uid, name: m.name, namespace: m.namespace, ip, serviceAccount: obj.spec?.serviceAccountName ?? 'default', annotations: iamAnnotations(m.annotations) };
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

export class PodIndex implements PodLookup {
  private readonly byUid = new Map<string, PodRecord>();
  private readonly byIp = new Map<string, string[]>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners = new Set<(change: PodChange) => void>();
  private syncedFlag = false;
  private syncWaiters = new Set<() => void>();

  get size(): number {
    return this.byUid.size;
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  onChange(listener: (change: PodChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The watch broke: answer nothing from the index until the next complete list. */
  markUnsynced(): void {
    this.syncedFlag = false;
  }

  /** Applies one watch event (ADDED/MODIFIED/DELETED). */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: PodObject): void {
    const uid = obj.metadata?.uid;
    if (!uid) return;
    const record = type === 'DELETED' ? undefined : podRecord(obj);
    if (record) this.upsert(record);
    else this.remove(uid);
  }

  /** Replaces everything with a fresh list (first sync, or relist after 410 / a broken watch). */
  replaceAll(objects: Iterable<PodObject>): void {
    this.beginRelist();
    this.addListed(objects);
    this.endRelist();
  }

  private relistSeen: Set<string> | undefined;

  /**
   * A relist in pages: beginRelist, addListed per page, endRelist. Pages are applied as they come
   * (memory stays at one page); pods missing from the whole list are dropped at the end, and the
   * index is not synced in between.
   */
  beginRelist(): void {
    this.syncedFlag = false;
    this.relistSeen = new Set();
  }

  addListed(objects: Iterable<PodObject>): void {
    const seen = this.relistSeen ?? new Set<string>();
    this.relistSeen = seen;
    for (const obj of objects) {
      const record = podRecord(obj);
      if (!record) continue;
      seen.add(record.uid);
      this.upsert(record);
    }
  }

  endRelist(): void {
    const seen = this.relistSeen ?? new Set<string>();
    this.relistSeen = undefined;
    for (const uid of [...this.byUid.keys()]) if (!seen.has(uid)) this.remove(uid);
    this.syncedFlag = true;
    for (const w of this.syncWaiters) w();
    this.syncWaiters.clear();
    for (const set of this.waiters.values()) for (const w of set) w();
  }

  get(uid: string): PodRecord | undefined {
    return this.byUid.get(uid);
  }

  all(): IterableIterator<PodRecord> {
    return this.byUid.values();
  }

  lookupNow(ip: string): PodLookupResult {
    if (!this.syncedFlag) return NOT_SYNCED;
    const uids = this.byIp.get(ip);
    if (!uids || uids.length === 0) return UNKNOWN;
    if (uids.length === 1) return { kind: 'pod', pod: this.byUid.get(uids[0]!)! };
    return { kind: 'conflict', pods: uids.map((u) => this.byUid.get(u)!) };
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

  whenSynced(): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.add(resolve));
  }

  private upsert(record: PodRecord): void {
    const old = this.byUid.get(record.uid);
    if (old && old.ip !== record.ip) this.unlinkIp(old.ip, old.uid);
    this.byUid.set(record.uid, record);
    const uids = this.byIp.get(record.ip) ?? [];
    if (!uids.includes(record.uid)) uids.push(record.uid);
    this.byIp.set(record.ip, uids);
    for (const l of this.listeners) l({ type: 'upsert', pod: record });
    const set = this.waiters.get(record.ip);
    if (set) for (const w of [...set]) w();
  }

  private remove(uid: string): void {
    const old = this.byUid.get(uid);
    if (!old) return;
    this.byUid.delete(uid);
    this.unlinkIp(old.ip, uid);
    for (const l of this.listeners) l({ type: 'delete', uid });
  }

  private unlinkIp(ip: string, uid: string): void {
    const uids = this.byIp.get(ip);
    if (!uids) return;
    const rest = uids.filter((u) => u !== uid);
    if (rest.length) this.byIp.set(ip, rest);
    else this.byIp.delete(ip);
  }
}
