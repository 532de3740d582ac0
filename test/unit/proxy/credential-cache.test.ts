import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CredentialCache, windowFor, DEFAULT_TIMING } from '../../../proxy/src/sts/credential-cache.ts';
import type { AssumeRequest, CredentialSource, IssuedCredentials } from '../../../proxy/src/sts/types.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { ManualClock, settle } from './manual-clock.ts';

const MIN = 60_000;
const request = (role = 'arn:aws:iam::123456789012:role/podiam/c/c-ns-a'): AssumeRequest => ({ roleArn: role, sessionName: 'ns.pod', durationSeconds: 3600, tags: [] });

/** A CredentialSource that issues numbered credentials on the manual clock, after `latencyMs`. */
class CountingSource implements CredentialSource {
  calls: AssumeRequest[] = [];
  failures: unknown[] = [];
  down = false;
  constructor(private readonly clock: ManualClock, private readonly latencyMs = 0) {}
  async assume(r: AssumeRequest): Promise<IssuedCredentials> {
    this.calls.push(r);
    if (this.latencyMs) await this.clock.sleep(this.latencyMs);
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const now = this.clock.now();
    return { accessKeyId: `AKID${this.calls.length}`, secretAccessKey: 's', sessionToken: 't', issuedAt: new Date(now), expiration: new Date(now + r.durationSeconds * 1000) };
  }
}

function accessDenied(): Error {
  return Object.assign(new Error('User is not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' });
}

describe('credential cache', () => {
  it('shares one AssumeRole call between concurrent requests for one pod', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock, 50);
    const cache = new CredentialCache({ source, clock });
    const all = Promise.all(Array.from({ length: 25 }, () => cache.get('uid-1', request(), 1000)));
    await clock.advance(60);
    const got = await all;
    assert.equal(source.calls.length, 1);
    assert.ok(got.every((c) => c.accessKeyId === 'AKID1'));
  });

  it('keys by pod UID: two pods with the same role get separate calls', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock });
    const a = await cache.get('uid-a', request(), 1000);
    const b = await cache.get('uid-b', request(), 1000);
    assert.equal(source.calls.length, 2);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
  });

  it('refreshes in the background so an answer always has at least 20 minutes left', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock });
    await cache.get('uid-1', request(), 1000);
    let minRemaining = Infinity;
    for (let minute = 1; minute <= 180; minute++) {
      await clock.advance(MIN);
      const c = await cache.get('uid-1', request(), 1000);
      minRemaining = Math.min(minRemaining, c.expiration.getTime() - clock.now());
    }
    assert.ok(minRemaining >= 20 * MIN, `an answer had only ${minRemaining / MIN} min left`);
    // One-hour sessions refreshed 25 min before expiry: one call every 35 min → 1 + floor(180/35) = 6.
    assert.equal(source.calls.length, 6);
  });

  it('prefetches so the first request is a cache hit', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    let hits = 0;
    const cache = new CredentialCache({ source, clock, events: { hit: () => hits++ } });
    cache.prefetch('uid-1', request());
    await settle();
    await cache.get('uid-1', request(), 1000);
    assert.equal(hits, 1);
    assert.equal(source.calls.length, 1);
  });

  it('retries a role STS cannot assume yet with backoff, and gives up after 30 seconds', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    source.failures.push(accessDenied(), accessDenied(), accessDenied());
    const cache = new CredentialCache({ source, clock });
    const first = cache.get('uid-1', request(), 100).catch((e: unknown) => e);
    await clock.advance(100);
    const err = await first;
    assert.ok(err instanceof PodiamError && err.code === 'PODIAM_CREDENTIALS_PENDING', String(err));
    await clock.advance(5_000);
    const c = await cache.get('uid-1', request(), 100);
    assert.equal(c.accessKeyId, 'AKID4');
    assert.equal(source.calls.length, 4);

    const never = new CountingSource(clock);
    never.down = true;
    const cache2 = new CredentialCache({ source: never, clock });
    const p = cache2.get('uid-2', request(), 40_000).catch((e: unknown) => e);
    await clock.advance(40_000);
    const e2 = await p;
    assert.ok(e2 instanceof PodiamError && e2.code === 'PODIAM_STS_FAILED', String(e2));
    assert.ok(clock.now() - Date.UTC(2026, 0, 1) >= 30_000);
    assert.ok(never.calls.length >= 5 && never.calls.length <= 12, `${never.calls.length} attempts`);
  });

  it('does not retry a validation error', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    source.failures.push(Object.assign(new Error('bad duration'), { name: 'ValidationError' }));
    const cache = new CredentialCache({ source, clock });
    await assert.rejects(cache.get('uid-1', request(), 1000), (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_STS_FAILED');
    assert.equal(source.calls.length, 1);
  });

  it('serves cached credentials while STS is down and 15 minutes remain, then answers 503', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock, timing: { retryDeadlineMs: 1000 } });
    const first = await cache.get('uid-1', request(), 1000);
    source.down = true;
    await clock.advance(44 * MIN); // 16 min left: below the 20-min floor, above the 15-min grace
    const staleP = cache.get('uid-1', request(), 2000);
    await clock.advance(2000);
    assert.equal((await staleP).accessKeyId, first.accessKeyId);
    await clock.advance(2 * MIN); // under 14 min left
    const failedP = cache.get('uid-1', request(), 2000).catch((e: unknown) => e);
    await clock.advance(2000);
    const failed = await failedP;
    assert.ok(failed instanceof PodiamError && failed.code === 'PODIAM_STS_FAILED' && failed.status === 503, String(failed));
  });

  it('drops a rejected fetch so the next request tries again', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    source.failures.push(Object.assign(new Error('bad'), { name: 'ValidationError' }));
    const cache = new CredentialCache({ source, clock });
    await assert.rejects(cache.get('uid-1', request(), 1000));
    const c = await cache.get('uid-1', request(), 1000);
    assert.equal(c.accessKeyId, 'AKID2');
  });

  it('forgets a pod on eviction and stops refreshing it', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock });
    await cache.get('uid-1', request(), 1000);
    cache.evict('uid-1');
    await clock.advance(3 * 3600_000);
    assert.equal(source.calls.length, 1);
    assert.equal(cache.size, 0);
  });

  it('never hands one role\'s credentials to a request for another role of the same pod', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock });
    const a = await cache.get('uid-1', request('arn:aws:iam::123456789012:role/a'), 1000);
    const b = await cache.get('uid-1', request('arn:aws:iam::123456789012:role/b'), 1000);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
    assert.equal(source.calls.at(-1)!.roleArn, 'arn:aws:iam::123456789012:role/b');
  });

  it('scales its margins down for short sessions', () => {
    const issuedAt = new Date(0);
    const w = windowFor({ accessKeyId: '', secretAccessKey: '', sessionToken: '', issuedAt, expiration: new Date(900_000) }, DEFAULT_TIMING);
    assert.equal(w.refreshAt, 450_000);
    assert.ok(w.minValidity < 450_000 && w.graceValidity < w.minValidity);
  });
});
