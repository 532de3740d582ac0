// The reflector and its store, tested once for both indexes. The source here is an in-memory,
// scripted ListWatchSource (the Reflector takes its source as an interface): it lets a test decide
// exactly when a watch ends and how. The same Reflector against a real kube-apiserver, through
// kubeListWatch(), is exercised in test/integration/proxy/kube-index.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Reflector, type ReflectorSink, type ListPage, type ListWatchSource, type WatchDoneFn, type WatchEventFn } from '../../../proxy/src/k8s/reflector.ts';
import { Store, type StoreChange } from '../../../proxy/src/k8s/store.ts';
import { NamespaceIndex, type NamespaceObject } from '../../../proxy/src/k8s/namespace-index.ts';
import { PodIndex, type PodObject } from '../../../proxy/src/k8s/pod-index.ts';
import { ManualClock, settle } from './manual-clock.ts';

interface Obj {
  metadata: { name: string; resourceVersion?: string };
  value: string;
}

interface OpenWatch {
  resourceVersion: string;
  onEvent: WatchEventFn;
  onDone: WatchDoneFn;
  aborted: boolean;
}

/** A collection the test edits; list() pages it, watches are opened and ended as the test says. */
class ScriptedSource<T extends { metadata?: { resourceVersion?: string } }> implements ListWatchSource<T> {
  items: T[] = [];
  rv = 100;
  lists = 0;
  failLists = 0;
  /** This many next watches end at once, with this error (null: closed by the server without an event). */
  failWatches = 0;
  failWatchesWith: unknown = Object.assign(new Error('Forbidden'), { statusCode: 403 });
  readonly watches: OpenWatch[] = [];

  async list(page: { limit: number; continue?: string }): Promise<ListPage<T>> {
    if (this.failLists > 0) {
      this.failLists--;
      throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    }
    if (!page.continue) this.lists++;
    const start = Number(page.continue ?? 0);
    const end = start + page.limit;
    const more = end < this.items.length;
    return { items: this.items.slice(start, end), metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(end) } : {}) } };
  }

  async watch(resourceVersion: string, onEvent: WatchEventFn, onDone: WatchDoneFn): Promise<{ abort(): void }> {
    const w: OpenWatch = { resourceVersion, onEvent, onDone, aborted: false };
    this.watches.push(w);
    if (this.failWatches > 0) {
      this.failWatches--;
      queueMicrotask(() => onDone(this.failWatchesWith));
    }
    return { abort: () => (w.aborted = true) };
  }

  get current(): OpenWatch {
    const w = this.watches.at(-1);
    assert.ok(w && !w.aborted, 'a watch is open');
    return w;
  }

  /** Sends one event on the open watch, with the next resourceVersion. */
  send(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    this.rv++;
    this.current.onEvent(type, { ...obj, metadata: { ...obj.metadata, resourceVersion: String(this.rv) } });
  }
}

const obj = (name: string, value = 'v1'): Obj => ({ metadata: { name }, value });

function recorded<R>(store: { onChange(listener: (c: StoreChange<R>) => void): unknown }): string[] {
  const log: string[] = [];
  store.onChange((c) => log.push(`${c.type} ${c.key}`));
  return log;
}

function objStore(): Store<Obj, string> {
  return new Store<Obj, string>({ key: (o) => o.metadata.name, record: (o) => o.value, equal: (a, b) => a === b });
}

async function started<T extends { metadata?: { resourceVersion?: string } }>(source: ScriptedSource<T>, sink: ReflectorSink<T>, clock = new ManualClock(), pageSize = 2) {
  const reflector = new Reflector<T>({ source, sink, clock, pageSize });
  const first = reflector.start();
  await clock.advance(0);
  return { reflector, clock, first };
}

describe('the reflector and its store', () => {
  it('lists in pages, tells listeners of every object, becomes synced and watches from the list\'s resourceVersion', async () => {
    const source = new ScriptedSource<Obj>();
    source.items = [obj('a'), obj('b'), obj('c')];
    const store = objStore();
    const log = recorded(store);
    assert.equal(store.synced, false);

    const { reflector, first } = await started(source, store);
    await first;

    assert.equal(store.synced, true);
    assert.deepEqual(log, ['added a', 'added b', 'added c']);
    assert.equal(source.watches.length, 1);
    assert.equal(source.current.resourceVersion, '100');
    reflector.stop();
  });

  it('applies added, modified and deleted events and reports only real changes', async () => {
    const source = new ScriptedSource<Obj>();
    source.items = [obj('a')];
    const store = objStore();
    const { reflector } = await started(source, store);
    const log = recorded(store);

    source.send('ADDED', obj('b'));
    source.send('MODIFIED', obj('a', 'v2'));
    source.send('MODIFIED', obj('a', 'v2'));
    source.send('DELETED', obj('b'));

    assert.deepEqual(log, ['added b', 'updated a', 'deleted b']);
    assert.equal(store.get('a'), 'v2');
    assert.equal(store.size, 1);
    assert.equal(source.lists, 1);
    reflector.stop();
  });

  it('resumes a watch the server closed from the last resourceVersion it saw, bookmarks included, without listing again', async () => {
    const source = new ScriptedSource<Obj>();
    const store = objStore();
    const { reflector, clock } = await started(source, store);
    source.send('ADDED', obj('a'));
    source.current.onEvent('BOOKMARK', { metadata: { resourceVersion: '150' } });

    source.current.onDone(null);
    await clock.advance(0);

    assert.equal(source.current.resourceVersion, '150');
    assert.equal(source.lists, 1);
    assert.equal(store.synced, true);
    reflector.stop();
  });

  it('lists again after 410 Gone and reports what vanished in the gap as deleted, what is new as added, what changed as updated', async () => {
    const source = new ScriptedSource<Obj>();
    source.items = [obj('stays'), obj('vanishes'), obj('changes')];
    const store = objStore();
    const relists: string[] = [];
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: store, clock, pageSize: 2, events: { relist: (why) => relists.push(why) } });
    reflector.start();
    await clock.advance(0);
    const log = recorded(store);

    // While the watch is about to be cut off, the collection moves on without it.
    source.items = [obj('stays'), obj('changes', 'v2'), obj('new')];
    source.rv = 300;
    source.current.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired' });
    source.current.onDone(null);
    assert.equal(store.synced, false, 'not synced while the gap is open');
    await clock.advance(1_000);

    assert.deepEqual(relists, ['410 Gone']);
    assert.equal(source.lists, 2);
    assert.deepEqual(log.sort(), ['added new', 'deleted vanishes', 'updated changes']);
    assert.equal(store.get('vanishes'), undefined);
    assert.equal(store.synced, true);
    assert.equal(source.current.resourceVersion, '300');
    reflector.stop();
  });

  it('lists again after a broken watch, retrying a failing list with backoff and staying unsynced until a list completes', async () => {
    const source = new ScriptedSource<Obj>();
    source.items = [obj('a'), obj('b')];
    const store = objStore();
    const errors: unknown[] = [];
    const relists: string[] = [];
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: store, clock, events: { watchError: (err) => errors.push(err), relist: (why) => relists.push(why) } });
    reflector.start();
    await clock.advance(0);
    const log = recorded(store);

    source.items = [obj('b')];
    source.failLists = 2;
    source.current.onDone(new Error('socket hang up'));
    await clock.advance(1_000);
    assert.equal(store.synced, false);
    assert.equal(errors.length, 2, 'the broken watch and the first failed list');
    assert.equal(clock.pending, 1, 'the next list waits for its backoff');
    await clock.advance(10_000);

    assert.equal(store.synced, true);
    assert.deepEqual(log, ['deleted a']);
    assert.equal(source.watches.length, 2);
    assert.deepEqual(relists, ['watch failed'], 'one relist, however many list attempts it took');
    reflector.stop();
  });

  it('backs off when every watch fails at once (may list, may not watch) instead of listing in a tight loop, and never gives up', async () => {
    const source = new ScriptedSource<Obj>();
    source.items = [obj('a')];
    source.failWatches = 1_000;
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: objStore(), clock });
    reflector.start();

    await clock.advance(1_000);
    assert.ok(source.lists <= 3, `${source.lists} lists in the first second`);
    await clock.advance(599_000);
    // The backoff grows to its 10 s cap and stays there: about one list per 10 s, never none.
    assert.ok(source.lists >= 55 && source.lists <= 70, `${source.lists} lists in ten minutes`);
    reflector.stop();
  });

  it('backs off when the server ends every watch at once without an event, instead of watching in a tight loop', async () => {
    const source = new ScriptedSource<Obj>();
    source.failWatches = 50;
    source.failWatchesWith = null;
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: objStore(), clock });
    reflector.start();

    await clock.advance(1_000);
    assert.ok(source.watches.length <= 3, `${source.watches.length} watches in the first second`);
    assert.equal(source.lists, 1);
    reflector.stop();
  });

  it('lists again at once after a watch that delivered events breaks', async () => {
    const source = new ScriptedSource<Obj>();
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: objStore(), clock });
    reflector.start();
    await clock.advance(0);
    source.failWatches = 3;
    source.current.onDone(new Error('socket hang up'));
    await clock.advance(60_000);
    const lists = source.lists;
    source.send('ADDED', obj('a'));

    source.current.onDone(new Error('socket hang up'));
    await clock.advance(0);

    assert.equal(source.lists, lists + 1);
    reflector.stop();
  });

  it('records when the API server last answered, by list or by watch event', async () => {
    const source = new ScriptedSource<Obj>();
    const clock = new ManualClock();
    const reflector = new Reflector<Obj>({ source, sink: objStore(), clock });
    assert.equal(reflector.lastContactMs, undefined);
    reflector.start();
    await clock.advance(0);
    const listedAt = clock.now();
    assert.equal(reflector.lastContactMs, listedAt);

    await clock.advance(5_000);
    source.current.onEvent('BOOKMARK', { metadata: { resourceVersion: '101' } });
    assert.equal(reflector.lastContactMs, listedAt + 5_000);
    reflector.stop();
  });

  it('tells its store, when the watch breaks, when the API server last answered, and keeps that time through failed relists', async () => {
    const source = new ScriptedSource<Obj>();
    const store = objStore();
    const { reflector, clock } = await started(source, store);
    assert.equal(store.staleSinceMs, undefined, 'not stale while synced');
    await clock.advance(5_000);
    source.current.onEvent('BOOKMARK', { metadata: { resourceVersion: '101' } });
    const lastAnswer = clock.now();
    await clock.advance(20_000);

    source.failLists = 3;
    source.current.onDone(new Error('socket hang up'));
    await clock.advance(2_000);
    assert.equal(store.synced, false);
    assert.equal(store.everSynced, true);
    assert.equal(store.staleSinceMs, lastAnswer);

    await clock.advance(10_000);
    assert.equal(store.synced, true);
    assert.equal(store.staleSinceMs, undefined);
    reflector.stop();
  });

  it('counts an accepted watch as an answer of the API server', async () => {
    const source = new ScriptedSource<Obj>();
    const { reflector, clock } = await started(source, objStore());
    const listedAt = clock.now();
    await clock.advance(30_000);
    source.current.onDone(null);
    await clock.advance(0);

    assert.equal(source.watches.length, 2);
    assert.equal(reflector.lastContactMs, listedAt + 30_000);
    reflector.stop();
  });

  it('once stopped, ends its watch and neither watches nor lists again', async () => {
    const source = new ScriptedSource<Obj>();
    const store = objStore();
    const { reflector, clock } = await started(source, store);
    const w = source.current;

    reflector.stop();
    w.onDone(null);
    await clock.advance(60_000);

    assert.equal(w.aborted, true);
    assert.equal(source.watches.length, 1);
    assert.equal(source.lists, 1);
  });
});

describe('the namespace index and the pod index on the reflector', () => {
  it('reports a namespace that vanished while the watch was down as deleted, so its pods are re-decided', async () => {
    const source = new ScriptedSource<NamespaceObject>();
    source.items = [{ metadata: { name: 'orders' } }, { metadata: { name: 'legacy', annotations: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' } } }];
    const namespaces = new NamespaceIndex();
    const { reflector, clock } = await started(source, namespaces);
    const changes: StoreChange<Record<string, string>>[] = [];
    namespaces.onChange((c) => changes.push(c));

    source.items = [{ metadata: { name: 'orders' } }];
    source.current.onDone(new Error('watch broke'));
    await clock.advance(1_000);

    assert.deepEqual(changes, [{ type: 'deleted', key: 'legacy', previous: { 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' } }]);
    assert.deepEqual(namespaces.facts('legacy').annotations, {});
    reflector.stop();
  });

  it('drops a pod that vanished while the watch was down from the IP index and tells listeners', async () => {
    const pod = (uid: string, ip: string): PodObject => ({ metadata: { uid, name: uid, namespace: 'orders' }, spec: {}, status: { phase: 'Running', podIP: ip } });
    const source = new ScriptedSource<PodObject>();
    source.items = [pod('a', '192.0.2.10'), pod('b', '192.0.2.11')];
    const pods = new PodIndex();
    const { reflector, clock } = await started(source, pods);
    const log = recorded(pods);
    assert.equal(pods.lookupNow('192.0.2.10').kind, 'pod');

    source.items = [pod('b', '192.0.2.11'), pod('c', '192.0.2.10')];
    source.current.onEvent('ERROR', { code: 410 });
    source.current.onDone(null);
    assert.equal(pods.lookupNow('192.0.2.10').kind, 'not-synced');
    await clock.advance(1_000);
    await settle();

    assert.deepEqual(log.sort(), ['added c', 'deleted a']);
    const now = pods.lookupNow('192.0.2.10');
    assert.equal(now.kind === 'pod' && now.pod.uid, 'c');
    reflector.stop();
  });
});
