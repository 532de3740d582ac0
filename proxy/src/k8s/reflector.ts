/**
 * List, then watch from the list's resourceVersion; on a 410 Gone (or any broken watch) list
 * again from scratch. Bookmarks keep the resourceVersion fresh so a reconnect rarely needs a
 * relist. The sink is told when its data may be stale (markUnsynced) and when it is whole again
 * (replaceAll), so the proxy never answers from a cache it knows has a gap.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../clock.ts';

export interface ReflectorSink<T> {
  /** A relist in pages: not synced until endRelist; what the whole list lacked is dropped then. */
  beginRelist(): void;
  addListed(items: T[]): void;
  endRelist(): void;
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
  markUnsynced(): void;
}

export interface ReflectorEvents {
  listed?(count: number): void;
  watchError?(err: unknown): void;
  relist?(reason: string): void;
}

export interface ReflectorOptions<T> {
  kubeConfig: KubeConfig;
  /** API path of the collection for the watch, e.g. /api/v1/pods */
  path: string;
  list: ListPageFn<T>;
  fieldSelector?: string;
  sink: ReflectorSink<T>;
  events?: ReflectorEvents;
  clock?: Clock;
  pageSize?: number;
}

export interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

/** One page of the collection (CoreV1Api's list call with the same field selector). */
export type ListPageFn<T> = (page: { limit: number; _continue?: string }) => Promise<ListPage<T>>;

export class Reflector<T extends { metadata?: { resourceVersion?: string } }> {
  private resourceVersion = '';
  private stopped = true;
  private controller: AbortController | undefined;
  private failures = 0;
  private cancelRetry: (() => void) | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: ReflectorOptions<T>) {
    this.clock = options.clock ?? systemClock;
  }

  private resolveFirstSync: () => void = () => undefined;
  /** Resolves after the first complete list. */
  readonly firstSync: Promise<void> = new Promise((resolve) => {
    this.resolveFirstSync = resolve;
  });

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
    this.controller?.abort();
    this.controller = undefined;
  }

  private async list(): Promise<void> {
    const { sink } = this.options;
    let cont: string | undefined;
    let rv = '';
    let count = 0;
    sink.beginRelist();
    // Bounded: the API server ends the chain; 10,000 pages is far past any node. Each page is
    // applied as it arrives, so memory holds one page, not the whole list.
    for (let page = 0; page < 10_000; page++) {
      const body = await this.options.list({ limit: this.options.pageSize ?? 500, ...(cont ? { _continue: cont } : {}) });
      const items = body.items ?? [];
      sink.addListed(items);
      count += items.length;
      rv = body.metadata?.resourceVersion ?? rv;
      cont = body.metadata?._continue || undefined;
      if (!cont) break;
    }
    sink.endRelist();
    this.resourceVersion = rv;
    this.failures = 0;
    this.resolveFirstSync();
    this.options.events?.listed?.(count);
  }

  private watch(): void {
    if (this.stopped) return;
    const { kubeConfig, path, fieldSelector, sink } = this.options;
    const query: Record<string, string> = { resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true' };
    if (fieldSelector) query.fieldSelector = fieldSelector;
    let gone = false;
    const onEvent = (type: string, obj: T & { code?: number }): void => {
      if (type === 'ERROR') {
        if (obj.code === 410) gone = true;
        return;
      }
      const rv = obj.metadata?.resourceVersion;
      if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') sink.apply(type, obj);
      if (rv) this.resourceVersion = rv;
    };
    const onDone = (err: unknown): void => {
      this.controller = undefined;
      if (this.stopped) return;
      const status = (err as { statusCode?: number } | null)?.statusCode;
      if (gone || status === 410) {
        this.options.events?.relist?.('410 Gone');
        this.relist();
      } else if (err) {
        this.options.events?.watchError?.(err);
        this.relist();
      } else {
        // The server closed a healthy watch (its timeout): resume from where we were.
        this.watch();
      }
    };
    new Watch(kubeConfig)
      .watch(path, query, onEvent, onDone)
      .then((c) => {
        if (this.stopped) c.abort();
        else this.controller = c;
      })
      .catch(onDone);
  }

  /** A gap is possible: stop answering from the cache, list again with backoff, then watch. */
  private relist(): void {
    this.options.sink.markUnsynced();
    this.resourceVersion = '';
    const delay = this.failures === 0 ? 0 : Math.min(10_000, 200 * 2 ** Math.min(this.failures, 6));
    this.cancelRetry = this.clock.schedule(delay, () => {
      this.cancelRetry = undefined;
      if (this.stopped) return;
      this.list().then(
        () => this.watch(),
        (err: unknown) => {
          this.failures++;
          this.options.events?.watchError?.(err);
          this.relist();
        },
      );
    });
  }
}
