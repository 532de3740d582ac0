import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RefusalLogLimiter } from '../../../proxy/src/log-limit.ts';

function limiter(maxIps = 100) {
  let t = 0;
  const l = new RefusalLogLimiter({ linesPerWindow: 5, windowMs: 10_000, maxIps }, () => t);
  return { l, advance: (ms: number) => (t += ms) };
}

describe('the per-IP limit on refusal log lines', () => {
  it('lets five lines per IP through in a window and counts the rest', () => {
    const { l } = limiter();
    const logged = Array.from({ length: 1000 }, () => l.admit('10.0.0.1').log).filter(Boolean).length;
    assert.equal(logged, 5);
  });

  it("still logs another IP's refusals while one IP is suppressed", () => {
    const { l } = limiter();
    for (let i = 0; i < 100; i++) l.admit('10.0.0.1');
    assert.equal(l.admit('10.0.0.2').log, true);
  });

  it('reports the suppressed count once when the window rolls, on the next refusal or on a sweep', () => {
    const { l, advance } = limiter();
    for (let i = 0; i < 12; i++) l.admit('10.0.0.1');
    for (let i = 0; i < 8; i++) l.admit('10.0.0.2');
    assert.deepEqual(l.sweep(), [], 'nothing is due before the window rolls');
    advance(10_000);
    const next = l.admit('10.0.0.1');
    assert.equal(next.log, true, 'a new window logs again');
    assert.deepEqual(next.summaries, [{ ip: '10.0.0.1', suppressed: 7 }]);
    assert.deepEqual(l.sweep(), [{ ip: '10.0.0.2', suppressed: 3 }]);
    advance(10_000);
    assert.deepEqual(l.sweep(), [], 'an IP with nothing suppressed gets no summary');
    assert.equal(l.tracked, 0);
  });

  it('remembers at most maxIps source IPs, reporting what an evicted IP had suppressed', () => {
    const { l } = limiter(3);
    for (let i = 0; i < 7; i++) l.admit('10.0.0.1');
    const summaries = [];
    for (let ip = 2; ip < 1000; ip++) summaries.push(...l.admit(`10.0.${ip >> 8}.${ip & 255}`).summaries);
    assert.equal(l.tracked, 3);
    assert.deepEqual(summaries, [{ ip: '10.0.0.1', suppressed: 2 }]);
  });
});
