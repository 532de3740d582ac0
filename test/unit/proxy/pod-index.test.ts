import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PodIndex, type PodObject } from '../../../proxy/src/k8s/pod-index.ts';

function pod(uid: string, ip: string | undefined, extra: { phase?: string; hostNetwork?: boolean; name?: string } = {}): PodObject {
  return {
    metadata: { uid, name: extra.name ?? `pod-${uid}`, namespace: 'ns', annotations: { 'iam.amazonaws.com/role': 'reader' } },
    spec: { hostNetwork: extra.hostNetwork ?? false, serviceAccountName: 'sa' },
    status: { phase: extra.phase ?? 'Running', ...(ip ? { podIP: ip } : {}) },
  };
}

describe('pod index', () => {
  it('answers not-synced until the first list has arrived', async () => {
    const index = new PodIndex();
    assert.equal((await index.find('192.0.2.10', 0)).kind, 'not-synced');
    index.replaceAll([pod('a', '192.0.2.10')]);
    const r = await index.find('192.0.2.10', 0);
    assert.equal(r.kind === 'pod' && r.pod.uid, 'a');
  });

  it('ignores hostNetwork pods and finished pods', async () => {
    const index = new PodIndex();
    index.replaceAll([pod('h', '192.0.2.1', { hostNetwork: true }), pod('s', '192.0.2.2', { phase: 'Succeeded' }), pod('f', '192.0.2.3', { phase: 'Failed' })]);
    assert.equal(index.size, 0);
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) assert.equal((await index.find(ip, 0)).kind, 'unknown');
  });

  it('keeps a pod without an IP yet (so its credentials can be prefetched) but answers no address with it', async () => {
    const index = new PodIndex();
    const changes: string[] = [];
    index.onChange((c) => changes.push(`${c.type} ${c.key}`));
    index.replaceAll([pod('p', undefined, { phase: 'Pending' })]);
    assert.equal(index.size, 1);
    assert.equal(index.get('p')?.ip, '');
    for (const ip of ['', '0.0.0.0', '192.0.2.10']) assert.equal((await index.find(ip, 0)).kind, 'unknown', `'${ip}'`);
    index.apply('MODIFIED', pod('p', '192.0.2.10'));
    const r = await index.find('192.0.2.10', 0);
    assert.equal(r.kind === 'pod' && r.pod.uid, 'p');
    assert.deepEqual(changes, ['added p', 'updated p']);
  });

  it('answers neither pod when two live pods claim one IP', async () => {
    const index = new PodIndex();
    index.replaceAll([pod('a', '192.0.2.10'), pod('b', '192.0.2.10')]);
    const r = await index.find('192.0.2.10', 0);
    assert.equal(r.kind, 'conflict');
    index.apply('DELETED', pod('a', '192.0.2.10'));
    const after = await index.find('192.0.2.10', 0);
    assert.equal(after.kind === 'pod' && after.pod.uid, 'b');
  });

  it('gives a reused IP to the new pod only, once the old one finished', async () => {
    const index = new PodIndex();
    index.replaceAll([pod('old', '192.0.2.10')]);
    index.apply('MODIFIED', pod('old', '192.0.2.10', { phase: 'Succeeded' }));
    index.apply('ADDED', pod('new', '192.0.2.10'));
    const r = await index.find('192.0.2.10', 0);
    assert.equal(r.kind === 'pod' && r.pod.uid, 'new');
  });

  it('waits a bounded time for a pod that has just started', async () => {
    const index = new PodIndex();
    index.replaceAll([]);
    const waiting = index.find('192.0.2.20', 1000);
    setTimeout(() => index.apply('ADDED', pod('late', '192.0.2.20')), 20);
    const r = await waiting;
    assert.equal(r.kind === 'pod' && r.pod.uid, 'late');
    const started = Date.now();
    assert.equal((await index.find('192.0.2.21', 50)).kind, 'unknown');
    assert.ok(Date.now() - started >= 45);
  });

  it('drops pods missing from a relist and tells listeners', () => {
    const index = new PodIndex();
    const deleted: string[] = [];
    index.onChange((c) => {
      if (c.type === 'deleted') deleted.push(c.key);
    });
    index.replaceAll([pod('a', '192.0.2.10'), pod('b', '192.0.2.11')]);
    index.markUnsynced();
    index.replaceAll([pod('b', '192.0.2.11')]);
    assert.deepEqual(deleted, ['a']);
    assert.equal(index.lookupNow('192.0.2.10').kind, 'unknown');
  });

  it('moves a pod whose IP changed', () => {
    const index = new PodIndex();
    index.replaceAll([pod('a', '192.0.2.10')]);
    index.apply('MODIFIED', pod('a', '192.0.2.12'));
    assert.equal(index.lookupNow('192.0.2.10').kind, 'unknown');
    assert.equal(index.lookupNow('192.0.2.12').kind, 'pod');
  });
});
