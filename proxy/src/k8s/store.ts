/**
 * A keyed store fed by a Reflector: the one place that turns a list and watch events into
 * added/updated/deleted changes. Pure (no I/O). The pod index (by uid) and the namespace index
 * (by name) are both this store with their own key and record.
 *
 * Every change that reaches the store reaches the listeners exactly once, whether it came from a
 * watch event or from the diff of a relist: an object that vanished while the watch was down is
 * reported `deleted` when the relist completes, like a DELETED event would have been. Unchanged
 * objects (by `equal`) are not reported, so a relist of 10,000 pods costs no re-decisions.
 */

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** What a Reflector feeds. */
export interface ReflectorSink<T> {
  /** A relist in pages: not synced until endRelist; what the whole list lacked is deleted then. */
  beginRelist(): void;
  addListed(items: Iterable<T>): void;
  endRelist(): void;
  apply(type: EventType, obj: T): void;
  /**
   * The watch broke (a gap is possible): not synced until the next complete list. lastContactMs:
   * when the API server last answered, so the store can say how old its data may be.
   */
  markUnsynced(lastContactMs?: number): void;
}

export type StoreChange<R> =
  | { type: 'added'; key: string; record: R }
  | { type: 'updated'; key: string; record: R; previous: R }
  | { type: 'deleted'; key: string; previous: R };

export interface StoreShape<T, R> {
  key(obj: T): string | undefined;
  /** The record kept for obj, or undefined when obj must not be kept (an entry under its key is deleted). */
  record(obj: T): R | undefined;
  equal(a: R, b: R): boolean;
}

export class Store<T, R> implements ReflectorSink<T> {
  private readonly byKey = new Map<string, R>();
  private readonly listeners = new Set<(change: StoreChange<R>) => void>();
  private syncedFlag = false;
  private everSyncedFlag = false;
  private staleSince: number | undefined;
  private syncWaiters = new Set<() => void>();
  private relistSeen: Set<string> | undefined;

  constructor(private readonly shape: StoreShape<T, R>) {}

  get size(): number {
    return this.byKey.size;
  }

  /** True between a complete list and the next broken watch: only then may a decision read the store. */
  get synced(): boolean {
    return this.syncedFlag;
  }

  /** True once a complete list has arrived: false means the store never held a whole picture. */
  get everSynced(): boolean {
    return this.everSyncedFlag;
  }

  /**
   * While unsynced after having been synced: the last contact with the API server before the gap
   * (the earliest one, however many relists failed since), so the data is at least this old.
   * Undefined while synced, or when the time is not known.
   */
  get staleSinceMs(): number | undefined {
    return this.syncedFlag ? undefined : this.staleSince;
  }

  get(key: string): R | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<R> {
    return this.byKey.values();
  }

  /** Told of every change, including deletions found by a relist. Returns an unsubscribe function. */
  onChange(listener: (change: StoreChange<R>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  whenSynced(): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.add(resolve));
  }

  markUnsynced(lastContactMs?: number): void {
    // Keep the first gap's time: a failed relist after it must not make old data look newer.
    if (this.syncedFlag || this.staleSince === undefined) this.staleSince = lastContactMs;
    this.syncedFlag = false;
  }

  apply(type: EventType, obj: T): void {
    const key = this.shape.key(obj);
    if (key === undefined) return;
    const record = type === 'DELETED' ? undefined : this.shape.record(obj);
    if (record === undefined) this.remove(key);
    else this.put(key, record);
  }

  /** Replaces everything with one complete list (first sync, or a relist), reporting the difference. */
  replaceAll(objects: Iterable<T>): void {
    this.beginRelist();
    this.addListed(objects);
    this.endRelist();
  }

  /**
   * A relist in pages: beginRelist, addListed per page, endRelist. Pages are applied as they come
   * (memory holds one page, not a second copy of the store); the store is not synced in between.
   */
  beginRelist(): void {
    this.syncedFlag = false;
    this.relistSeen = new Set();
  }

  addListed(objects: Iterable<T>): void {
    const seen = (this.relistSeen ??= new Set());
    for (const obj of objects) {
      const key = this.shape.key(obj);
      if (key === undefined) continue;
      const record = this.shape.record(obj);
      if (record === undefined) {
        this.remove(key);
        continue;
      }
      seen.add(key);
      this.put(key, record);
    }
  }

  endRelist(): void {
    const seen = this.relistSeen ?? new Set<string>();
    this.relistSeen = undefined;
    // What the complete list lacks was deleted while nobody watched: listeners must hear of it,
    // or a namespace's pods are never re-decided and a gone pod's credentials stay cached.
    for (const key of [...this.byKey.keys()]) if (!seen.has(key)) this.remove(key);
    this.syncedFlag = true;
    this.everSyncedFlag = true;
    this.staleSince = undefined;
    for (const w of this.syncWaiters) w();
    this.syncWaiters.clear();
    this.becameSynced();
  }

  /** For subclasses: keep secondary indexes in step. Runs before listeners, so they see it done. */
  protected indexChange(_change: StoreChange<R>): void {}

  /** For subclasses: the store has just become synced. */
  protected becameSynced(): void {}

  private put(key: string, record: R): void {
    const previous = this.byKey.get(key);
    if (previous !== undefined && this.shape.equal(previous, record)) return;
    this.byKey.set(key, record);
    this.emit(previous === undefined ? { type: 'added', key, record } : { type: 'updated', key, record, previous });
  }

  private remove(key: string): void {
    const previous = this.byKey.get(key);
    if (previous === undefined) return;
    this.byKey.delete(key);
    this.emit({ type: 'deleted', key, previous });
  }

  private emit(change: StoreChange<R>): void {
    this.indexChange(change);
    for (const l of this.listeners) l(change);
  }
}
