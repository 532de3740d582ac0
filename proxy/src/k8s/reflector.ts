/**
 * List, then watch from the list's resourceVersion; on a 410 Gone (or any broken watch) list
 * again from scratch, as kubernetes-client/javascript's ListWatch does. Bookmarks keep the
 * resourceVersion fresh so a reconnect rarely needs a relist. The sink (a Store) is told when its
 * data may be stale (markUnsynced) and receives each relist whole (beginRelist…endRelist), so it
 * can report what vanished during the gap and the proxy never answers from a cache with a gap.
 *
 * The API server is reached only through a ListWatchSource: kubeListWatch() is the real one.
 */
import { systemClock, type Clock } from '../clock.ts';
import type { KubeClient, ListPage, WatchDoneFn, WatchEventFn } from './api-client.ts';
import type { ReflectorSink } from './store.ts';

export type { ReflectorSink } from './store.ts';
export type { ListPage, WatchDoneFn, WatchEventFn } from './api-client.ts';

/** One page of the collection (a list call with the same field selector), in the API server's shape. */
export type ListPageFn<T> = (page: { limit: number; continue?: string }) => Promise<ListPage<T>>;

/** A collection that can be listed in pages and watched from a resourceVersion. */
export interface ListWatchSource<T> {
  list: ListPageFn<T>;
  /** Opens a watch; resolves with a handle that ends it. onDone is called exactly once. */
  watch(resourceVersion: string, onEvent: WatchEventFn, onDone: WatchDoneFn): Promise<{ abort(): void }>;
}

/** The real source: paged list calls and a watch of the same collection (path) and selector. */
export function kubeListWatch<T>(options: { client: KubeClient; path: string; fieldSelector?: string }): ListWatchSource<T> {
  const { client, path, fieldSelector } = options;
  return {
    list: (page) => client.list<T>(path, { ...page, fieldSelector }),
    watch(resourceVersion, onEvent, onDone) {
      const query: Record<string, string> = { resourceVersion, allowWatchBookmarks: 'true' };
      if (fieldSelector) query.fieldSelector = fieldSelector;
      return client.watch(path, query, onEvent, onDone);
    },
  };
}

export interface ReflectorEvents {
  listed?(count: number): void;
  watchError?(err: unknown): void;
  relist?(reason: string): void;
}

export interface ReflectorOptions<T> {
  source: ListWatchSource<T>;
  sink: ReflectorSink<T>;
  events?: ReflectorEvents;
  clock?: Clock;
  pageSize?: number;
}

const MIN_HEALTHY_WATCH_MS = 1_000;

/** Objects carry a resourceVersion; a watch ERROR event carries a Status with a code. */
type Watched<T> = T & { metadata?: { resourceVersion?: string }; code?: number };

export class Reflector<T> {
  private resourceVersion = '';
  private stopped = true;
  private watchHandle: { abort(): void } | undefined;
  /**
   * Failed lists and failed watches in a row; it sets the backoff. A successful list does not
   * reset it, only a healthy watch does: a caller that may list but not watch (RBAC without the
   * watch verb) would otherwise list the whole collection in a tight loop.
   */
  private failures = 0;
  private cancelRetry: (() => void) | undefined;
  private readonly clock: Clock;
  private contactMs: number | undefined;

  constructor(private readonly options: ReflectorOptions<T>) {
    this.clock = options.clock ?? systemClock;
  }

  private resolveFirstSync: () => void = () => undefined;
  /** Resolves after the first complete list. */
  readonly firstSync: Promise<void> = new Promise((resolve) => {
    this.resolveFirstSync = resolve;
  });

  /**
   * When the API server last answered: a list page, or a watch event (bookmarks included). The
   * sink's `synced` says whether the data is whole; this says how old the last word from the
   * server is, e.g. to decide how long known objects may still be served during an outage.
   */
  get lastContactMs(): number | undefined {
    return this.contactMs;
  }

  /**
   * Starts listing and watching; resolves after the first complete list. An API server that is
   * not reachable yet is retried with backoff, never given up on: a proxy that stopped trying
   * would stay unready while its liveness probe still passed.
   */
  start(): Promise<void> {
    this.stopped = false;
    this.relist();
    return this.firstSync;
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.watchHandle?.abort();
    this.watchHandle = undefined;
  }

  private async list(): Promise<void> {
    const { sink, source } = this.options;
    let cont: string | undefined;
    let rv = '';
    let count = 0;
    sink.beginRelist();
    // Bounded: the API server ends the chain; 10,000 pages is far past any node. Each page is
    // applied as it arrives, so memory holds one page, not the whole list.
    for (let page = 0; page < 10_000; page++) {
      const body = await source.list({ limit: this.options.pageSize ?? 500, ...(cont ? { continue: cont } : {}) });
      if (this.stopped) return;
      this.contactMs = this.clock.now();
      const items = body.items ?? [];
      sink.addListed(items);
      count += items.length;
      rv = body.metadata?.resourceVersion ?? rv;
      cont = body.metadata?.continue || undefined;
      if (!cont) break;
    }
    sink.endRelist();
    this.resourceVersion = rv;
    this.resolveFirstSync();
    this.options.events?.listed?.(count);
  }

  private watch(): void {
    if (this.stopped) return;
    const { sink, source } = this.options;
    let gone = false;
    let ended = false;
    let delivered = false;
    const openedAt = this.clock.now();
    const onEvent = (type: string, raw: unknown): void => {
      if (ended || this.stopped) return;
      this.contactMs = this.clock.now();
      const obj = raw as Watched<T>;
      if (type === 'ERROR') {
        if (obj?.code === 410) gone = true;
        return;
      }
      delivered = true;
      this.failures = 0;
      if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') sink.apply(type, obj);
      const rv = obj?.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
    };
    const onDone = (err: unknown): void => {
      if (ended) return;
      ended = true;
      this.watchHandle = undefined;
      if (this.stopped) return;
      // As client-go's reflector: a watch that ends without a single event within a second is
      // as good as failed (a proxy or server that closes at once would make a tight loop).
      const healthy = delivered || (!err && !gone && this.clock.now() - openedAt >= MIN_HEALTHY_WATCH_MS);
      this.failures = healthy ? 0 : this.failures + 1;
      const status = (err as { statusCode?: number } | null)?.statusCode;
      if (gone || status === 410) {
        this.options.events?.relist?.('410 Gone');
        this.relist();
      } else if (err) {
        this.options.events?.watchError?.(err);
        // Counted like a 410: podiam_proxy_kube_relists_total is documented as both.
        this.options.events?.relist?.('watch failed');
        this.relist();
      } else {
        // The server closed a healthy watch (its timeout): resume from where we were.
        this.cancelRetry = this.clock.schedule(this.backoffMs(), () => {
          this.cancelRetry = undefined;
          this.watch();
        });
      }
    };
    source.watch(this.resourceVersion, onEvent, onDone).then(
      (handle) => {
        if (this.stopped || ended) return handle.abort();
        // The server accepted the watch: that is an answer too (a quiet collection sends no events).
        this.contactMs = this.clock.now();
        this.watchHandle = handle;
      },
      onDone,
    );
  }

  private backoffMs(): number {
    return this.failures === 0 ? 0 : Math.min(10_000, 200 * 2 ** Math.min(this.failures, 6));
  }

  /** A gap is possible: stop answering from the store, list again with backoff, then watch. */
  private relist(): void {
    this.options.sink.markUnsynced(this.contactMs);
    this.resourceVersion = '';
    this.cancelRetry = this.clock.schedule(this.backoffMs(), () => {
      this.cancelRetry = undefined;
      if (this.stopped) return;
      this.list().then(
        () => this.watch(),
        (err: unknown) => {
          if (this.stopped) return;
          this.failures++;
          this.options.events?.watchError?.(err);
          this.relist();
        },
      );
    });
  }
}
