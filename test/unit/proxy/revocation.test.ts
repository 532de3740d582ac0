import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { revocationCutoff } from '../../../proxy/src/k8s/revocation.ts';
import { CredentialCache } from '../../../proxy/src/sts/credential-cache.ts';
import type { AssumeRequest, CredentialSource, IssuedCredentials } from '../../../proxy/src/sts/types.ts';
import { ManualClock } from './manual-clock.ts';

const KEY = 'podiam.io/sessions-revoked-at';
const NOW = Date.parse('2026-11-27T12:00:00Z');

describe('the namespace revocation annotation', () => {
  it('gives the cut-off time of an RFC 3339 value', () => {
    assert.deepEqual(revocationCutoff({ [KEY]: '2026-11-27T11:59:30Z' }, NOW), { kind: 'cutoff', atMs: NOW - 30_000 });
    assert.deepEqual(revocationCutoff({ [KEY]: '2026-11-27T12:59:30+01:00' }, NOW), { kind: 'cutoff', atMs: NOW - 30_000 });
  });

  it('is absent when the namespace has no such annotation', () => {
    assert.deepEqual(revocationCutoff({ other: 'x' }, NOW), { kind: 'none' });
    assert.deepEqual(revocationCutoff(undefined, NOW), { kind: 'none' });
  });

  it('refuses a value that is not a time, or a time in the future, and says why', () => {
    const bad = revocationCutoff({ [KEY]: 'yesterday' }, NOW);
    assert.equal(bad.kind, 'invalid');
    assert.match(bad.kind === 'invalid' ? bad.reason : '', /RFC 3339/);
    const future = revocationCutoff({ [KEY]: '2026-11-27T13:00:00Z' }, NOW);
    assert.equal(future.kind, 'invalid');
    assert.match(future.kind === 'invalid' ? future.reason : '', /future/);
  });
});

class Source implements CredentialSource {
  calls = 0;
  constructor(private readonly clock: ManualClock) {}
  async assume(r: AssumeRequest): Promise<IssuedCredentials> {
    this.calls++;
    const now = this.clock.now();
    return { accessKeyId: `AKID${this.calls}`, secretAccessKey: 's', sessionToken: 't', issuedAt: new Date(now), expiration: new Date(now + r.durationSeconds * 1000) };
  }
}

describe('dropping revoked credentials from the cache', () => {
  const request: AssumeRequest = { roleArn: 'arn:aws:iam::123456789012:role/podiam/c/c-ns-a', sessionName: 'ns.pod', durationSeconds: 3600, tags: [] };

  it('drops credentials issued before the cut-off so the next request gets new ones', async () => {
    const clock = new ManualClock();
    const source = new Source(clock);
    const cache = new CredentialCache({ source, clock });
    const old = await cache.get('uid-1', request, 1000);
    await clock.advance(5_000);
    assert.equal(cache.evictIssuedBefore('uid-1', clock.now()), true);
    const next = cache.get('uid-1', request, 2000);
    await clock.advance(1_000);
    const fresh = await next;
    assert.notEqual(fresh.accessKeyId, old.accessKeyId);
    assert.equal(source.calls, 2);
  });

  it('keeps credentials issued after the cut-off', async () => {
    const clock = new ManualClock();
    const source = new Source(clock);
    const cache = new CredentialCache({ source, clock });
    const cut = clock.now();
    await clock.advance(1_000);
    const first = await cache.get('uid-1', request, 1000);
    assert.equal(cache.evictIssuedBefore('uid-1', cut), false);
    assert.equal((await cache.get('uid-1', request, 1000)).accessKeyId, first.accessKeyId);
    assert.equal(source.calls, 1);
  });

  it('does nothing for a pod it holds nothing for', () => {
    const cache = new CredentialCache({ source: new Source(new ManualClock()), clock: new ManualClock() });
    assert.equal(cache.evictIssuedBefore('unknown', Date.now()), false);
  });
});

describe('fetching again after a revocation', () => {
  it('waits for the second after the cut-off, because IAM compares issue times in whole seconds', async () => {
    const clock = new ManualClock();
    const source = new Source(clock);
    const cache = new CredentialCache({ source, clock });
    const request: AssumeRequest = { roleArn: 'arn:aws:iam::123456789012:role/podiam/c/c-ns-a', sessionName: 'ns.pod', durationSeconds: 3600, tags: [] };
    await cache.get('uid-1', request, 1000);
    await clock.advance(1_000);
    const cut = clock.now() + 300; // within a second; the manual clock starts on a whole second
    await clock.advance(400);
    assert.equal(cache.evictIssuedBefore('uid-1', cut), true);
    const next = cache.get('uid-1', request, 2000);
    await clock.advance(500);
    assert.equal(source.calls, 1, 'no AssumeRole within the cut-off second');
    await clock.advance(200);
    const fresh = await next;
    assert.equal(source.calls, 2);
    assert.ok(fresh.issuedAt.getTime() >= Math.floor(cut / 1000) * 1000 + 1000);
  });
});
