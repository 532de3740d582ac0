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

  it('retries a role STS refuses for a few seconds (a role created moments ago), telling the pod STS\'s code meanwhile', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    source.failures.push(accessDenied(), accessDenied(), accessDenied());
    const cache = new CredentialCache({ source, clock });
    const first = cache.get('uid-1', request(), 100).catch((e: unknown) => e);
    await clock.advance(100);
    const err = await first;
    assert.ok(err instanceof PodiamError && err.code === 'PODIAM_STS_FAILED', String(err));
    assert.match(err.message, /STS refused AssumeRole of arn:aws:iam::123456789012:role\/podiam\/c\/c-ns-a with AccessDenied/);
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

  it('remembers a final refusal, so the SDKs\' retries make no new AssumeRole calls until it expires', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    for (let i = 0; i < 50; i++) source.failures.push(accessDenied());
    const cache = new CredentialCache({ source, clock });
    const first = cache.get('uid-1', request(), 900).catch((e: unknown) => e);
    await clock.advance(900);
    assert.ok((await first) instanceof PodiamError);
    await clock.advance(DEFAULT_TIMING.refusalRetryMs);
    const afterRetries = source.calls.length;
    assert.ok(afterRetries >= 2 && afterRetries <= 8, `${afterRetries} calls while retrying the refusal`);
    // The SDK retries, as botocore and the JS SDK do, about once a second for ten seconds.
    for (let i = 0; i < 10; i++) {
      const e = await cache.get('uid-1', request(), 900).catch((x: unknown) => x);
      assert.ok(e instanceof PodiamError && e.code === 'PODIAM_STS_FAILED' && /AccessDenied/.test(e.message), String(e));
      await clock.advance(1000);
    }
    assert.equal(source.calls.length, afterRetries, 'no AssumeRole while the refusal is remembered');
    cache.prefetch('uid-1', request());
    assert.equal(source.calls.length, afterRetries, 'nor a prefetch');
    await clock.advance(DEFAULT_TIMING.negativeCacheMs);
    const later = cache.get('uid-1', request(), 100).catch((x: unknown) => x);
    await clock.advance(100);
    await later;
    assert.equal(source.calls.length, afterRetries + 1, 'once it expires, STS is asked again');
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

  it('drops a rejected fetch so the next request tries again (a refusal once it is no longer remembered)', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock, 10);
    source.failures.push(Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' }));
    const cache = new CredentialCache({ source, clock, timing: { retryDeadlineMs: 0 } });
    const failed = cache.get('uid-1', request(), 1000).catch((e: unknown) => e);
    await clock.advance(10);
    assert.ok((await failed) instanceof PodiamError);
    const again = cache.get('uid-1', request(), 1000);
    await clock.advance(10);
    assert.equal((await again).accessKeyId, 'AKID2');

    source.failures.push(Object.assign(new Error('bad'), { name: 'ValidationError' }));
    await clock.advance(DEFAULT_TIMING.negativeCacheMs);
    cache.evict('uid-1');
    const refusedOnce = cache.get('uid-1', request(), 1000).catch((e: unknown) => e);
    await clock.advance(10);
    assert.ok((await refusedOnce) instanceof PodiamError);
    await assert.rejects(cache.get('uid-1', request(), 1000), /ValidationError/);
    assert.equal(source.calls.length, 3, 'the refusal is answered from memory');
    await clock.advance(DEFAULT_TIMING.negativeCacheMs);
    const c = cache.get('uid-1', request(), 1000);
    await clock.advance(10);
    assert.equal((await c).accessKeyId, 'AKID4');
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

  it('keeps the newest of equal requests for a pod (its record changed), so the older one is let go and refreshes use the newer', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    const cache = new CredentialCache({ source, clock });
    const pending = request();
    const running = request();
    await cache.get('uid-1', pending, 1000);
    assert.ok(cache.cached('uid-1', running), 'an equal request in a new object is the same cached session');
    await clock.advance(40 * MIN);
    await settle();
    assert.equal(source.calls.length, 2);
    assert.equal(source.calls[1], running);
  });

  it('scales its margins down for short sessions', () => {
    const issuedAt = new Date(0);
    const w = windowFor({ accessKeyId: '', secretAccessKey: '', sessionToken: '', issuedAt, expiration: new Date(900_000) }, DEFAULT_TIMING);
    assert.equal(w.refreshAt, 450_000);
    assert.ok(w.minValidity < 450_000 && w.graceValidity < w.minValidity);
  });

  it('keeps at most the configured number of AssumeRole calls in flight while 1,000 pods appear at once', async () => {
    // Prepare: a source that counts the calls open at once, each taking 100 ms.
    const clock = new ManualClock();
    let open = 0;
    let peak = 0;
    let calls = 0;
    const source: CredentialSource = {
      async assume(r) {
        calls++;
        peak = Math.max(peak, ++open);
        await clock.sleep(100);
        open--;
        const now = clock.now();
        return { accessKeyId: `AKID${calls}`, secretAccessKey: 's', sessionToken: 't', issuedAt: new Date(now), expiration: new Date(now + r.durationSeconds * 1000) };
      },
    };
    const cache = new CredentialCache({ source, clock, concurrency: 4 });
    // Act
    for (let i = 0; i < 1000; i++) cache.prefetch(`uid-${i}`, request());
    assert.deepEqual(cache.load, { inFlight: 4, queued: 996 });
    await clock.advance(1000 * 100);
    // Assess
    assert.equal(peak, 4);
    assert.equal(calls, 1000);
    assert.deepEqual(cache.load, { inFlight: 0, queued: 0 });
  });

  it("starts an asking pod's AssumeRole before the prefetches queued ahead of it", async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock, 100);
    const cache = new CredentialCache({ source, clock, concurrency: 2 });
    for (let i = 0; i < 50; i++) cache.prefetch(`uid-${i}`, request(`arn:aws:iam::123456789012:role/r${i}`));
    const asked = cache.get('uid-49', request('arn:aws:iam::123456789012:role/r49'), 1000);
    await clock.advance(200);
    await asked;
    assert.deepEqual(source.calls.slice(0, 3).map((c) => c.roleArn.split('/')[1]), ['r0', 'r1', 'r49']);
  });

  it('waits a jittered, growing delay between attempts and stops after maxAttempts', async () => {
    const clock = new ManualClock();
    const source = new CountingSource(clock);
    source.down = true;
    const at: number[] = [];
    const started = clock.now();
    const cache = new CredentialCache({ source, clock, random: () => 0, events: { stsCall: () => at.push(clock.now() - started) } });
    const failed = cache.get('uid-1', request(), 60_000).catch((e: unknown) => e);
    await clock.advance(60_000);
    assert.ok((await failed) instanceof PodiamError);
    // random() = 0: half of 250, 500, 1000, 2000, 4000, 5000 (the cap), 5000 ms.
    assert.deepEqual(at, [0, 125, 375, 875, 1875, 3875, 6375, 8875]);
    assert.equal(at.length, DEFAULT_TIMING.maxAttempts);
  });
});
