// The pod lookup during an API-server outage (issue 11 item 3): the real PodIndex, NamespaceIndex
// and StaleTolerantLookup, fed and broken here the way the Reflector feeds and breaks them (its
// markUnsynced carries the last contact; reflector.test.ts checks that part). Time is a
// ManualClock, so the window is checked exactly, not by waiting. The same behaviour against a real
// kube-apiserver through a cut relay: test/integration/proxy/kube-index.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../proxy/src/log.ts';
import { PodIndex, type PodObject, type PodLookupResult, type PodRecord } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { StaleTolerantLookup } from '../../../proxy/src/k8s/stale-lookup.ts';
import { CallerRoles } from '../../../proxy/src/imds/caller.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { ManualClock, settle } from './manual-clock.ts';

const WINDOW_MS = 90_000;

function pod(uid: string, ip: string, extra: { phase?: string; deleting?: boolean; role?: string } = {}): PodObject {
  return {
    metadata: { uid, name: `pod-${uid}`, namespace: 'orders', annotations: { 'iam.amazonaws.com/role': extra.role ?? 'reader' }, ...(extra.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { serviceAccountName: 'sa' },
    status: { phase: extra.phase ?? 'Running', podIP: ip },
  };
}

function setup(windowMs = WINDOW_MS, objects: PodObject[] = [pod('a', '192.0.2.10')]) {
  const clock = new ManualClock();
  const pods = new PodIndex();
  const namespaces = new NamespaceIndex();
  namespaces.replaceAll([{ metadata: { name: 'orders' } }]);
  pods.replaceAll(objects);
  const answered: string[] = [];
  const changed: Array<{ ip: string; served: PodRecord; now: PodLookupResult }> = [];
  const lookup = new StaleTolerantLookup({
    pods,
    namespaces,
    windowMs,
    clock,
    events: { staleAnswer: (p) => answered.push(p.uid), ownerChanged: (ip, served, now) => changed.push({ ip, served, now }) },
  });
  /** The watch broke; the API server last answered `ageMs` ago (as the Reflector reports it). */
  const breakWatch = (ageMs = 0, which: 'pods' | 'namespaces' | 'both' = 'both'): void => {
    if (which !== 'namespaces') pods.markUnsynced(clock.now() - ageMs);
    if (which !== 'pods') namespaces.markUnsynced(clock.now() - ageMs);
  };
  const roles = new CallerRoles({
    pods: lookup,
    namespaces,
    settings: { cluster: 'prod', accountId: '123456789012' },
    indexWaitMs: 0,
    sessionDurationSeconds: 3600,
    logger: createLogger('silent'),
  });
  return { clock, pods, namespaces, lookup, breakWatch, roles, answered, changed };
}

const uidOf = (r: PodLookupResult): string | undefined => (r.kind === 'pod' ? r.pod.uid : undefined);
const notSynced = (e: unknown): boolean => e instanceof PodiamError && e.code === 'PODIAM_POD_INDEX_NOT_SYNCED' && e.status === 503;

describe('the pod lookup while the API server is out of reach', () => {
  it('keeps answering for a pod known before the watch broke, and refuses an IP it did not know with 503', async () => {
    const { lookup, breakWatch, clock, roles, answered } = setup();
    breakWatch();
    await clock.advance(60_000);

    assert.deepEqual(lookup.freshness(), { kind: 'stale', ageMs: 60_000 });
    const { pod: served, decision } = await roles.resolve('192.0.2.10');
    assert.equal(served.uid, 'a');
    assert.equal(decision.role.arn, 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader');
    await assert.rejects(roles.resolve('192.0.2.99'), notSynced);
    assert.deepEqual(answered, ['a']);
  });

  it('answers nobody once the window since the last answer of the API server has passed', async () => {
    const { lookup, breakWatch, clock, roles } = setup();
    // The API server last answered 30 s before the break was noticed: the window runs from then.
    breakWatch(30_000);
    await clock.advance(WINDOW_MS - 30_000 - 1);
    assert.equal(uidOf(await lookup.find('192.0.2.10', 0)), 'a');

    await clock.advance(1);

    assert.deepEqual(lookup.freshness(), { kind: 'expired', ageMs: WINDOW_MS });
    await assert.rejects(roles.resolve('192.0.2.10'), notSynced);
  });

  it('keeps the window from the first break when later relists fail too', async () => {
    const { pods, breakWatch, clock, lookup } = setup();
    breakWatch(0, 'pods');
    await clock.advance(WINDOW_MS - 10_000);
    // A relist that failed on its second page marks the store again, with the later contact of
    // its first page: the pods not yet relisted are as old as before, so the time is ignored.
    pods.markUnsynced(clock.now());
    await clock.advance(10_000);

    assert.equal(lookup.freshness().kind, 'expired');
    assert.equal((await lookup.find('192.0.2.10', 0)).kind, 'not-synced');
  });

  it('answers nobody before the first complete list', async () => {
    const clock = new ManualClock();
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    // A first list that failed halfway: the page that arrived is in the store, but it never synced.
    pods.beginRelist();
    pods.addListed([pod('a', '192.0.2.10')]);
    pods.markUnsynced(clock.now());
    const lookup = new StaleTolerantLookup({ pods, namespaces, windowMs: WINDOW_MS, clock });

    assert.deepEqual(lookup.freshness(), { kind: 'not-synced' });
    assert.equal((await lookup.find('192.0.2.10', 0)).kind, 'not-synced');
  });

  it('never answers from stale data for a pod that was terminating or not yet Running when last seen', async () => {
    const { lookup, breakWatch } = setup(WINDOW_MS, [pod('going', '192.0.2.11', { deleting: true }), pod('starting', '192.0.2.12', { phase: 'Pending' }), pod('ok', '192.0.2.13')]);
    breakWatch();

    assert.equal((await lookup.find('192.0.2.11', 0)).kind, 'not-synced');
    assert.equal((await lookup.find('192.0.2.12', 0)).kind, 'not-synced');
    assert.equal(uidOf(await lookup.find('192.0.2.13', 0)), 'ok');
  });

  it('stops answering for a pod from stale data once a watch event said it is terminating', async () => {
    const { lookup, breakWatch, pods } = setup();
    pods.apply('MODIFIED', pod('a', '192.0.2.10', { deleting: true }));
    breakWatch();

    assert.equal((await lookup.find('192.0.2.10', 0)).kind, 'not-synced');
  });

  it('answers nobody for an IP two pods claimed when the watch broke', async () => {
    const { lookup, breakWatch } = setup(WINDOW_MS, [pod('a', '192.0.2.10'), pod('b', '192.0.2.10')]);
    breakWatch();
    assert.equal((await lookup.find('192.0.2.10', 0)).kind, 'not-synced');
  });

  it('answers nobody from stale data when the window is 0', async () => {
    const { lookup, breakWatch, roles } = setup(0);
    breakWatch();
    assert.equal(lookup.freshness().kind, 'expired');
    await assert.rejects(roles.resolve('192.0.2.10'), notSynced);
  });

  it('treats a broken namespace watch alone as stale too, bounded by the same window', async () => {
    const { lookup, breakWatch, clock } = setup();
    breakWatch(0, 'namespaces');
    assert.equal(uidOf(await lookup.find('192.0.2.10', 0)), 'a');
    assert.equal((await lookup.find('192.0.2.99', 0)).kind, 'not-synced', 'even with a synced pod index, an unknown IP is not decided on stale namespaces');
    await clock.advance(WINDOW_MS);
    assert.equal((await lookup.find('192.0.2.10', 0)).kind, 'not-synced');
  });

  it('answers from the fresh index once relisted, and reports an IP answered from stale data that another pod holds now', async () => {
    const { lookup, breakWatch, pods, namespaces, clock, changed } = setup(WINDOW_MS, [pod('a', '192.0.2.10'), pod('c', '192.0.2.14')]);
    breakWatch();
    await clock.advance(5_000);
    assert.equal(uidOf(await lookup.find('192.0.2.10', 0)), 'a');
    assert.equal(uidOf(await lookup.find('192.0.2.14', 0)), 'c');

    // In the gap, a was deleted and its IP given to b; c is unchanged.
    namespaces.replaceAll([{ metadata: { name: 'orders' } }]);
    pods.replaceAll([pod('b', '192.0.2.10', { role: 'writer' }), pod('c', '192.0.2.14')]);
    await settle();

    assert.equal(lookup.freshness().kind, 'fresh');
    assert.equal(uidOf(await lookup.find('192.0.2.10', 0)), 'b');
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.ip, '192.0.2.10');
    assert.equal(changed[0]!.served.uid, 'a');
    assert.equal(uidOf(changed[0]!.now), 'b');
  });
});
