import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isThrottling, mapLimit, withThrottleRetry } from '../../../iam-model/src/retry.ts';
import { PodiamError } from '../../../core/src/errors.ts';

function throttled(): Error {
  const err = new Error('Rate exceeded');
  err.name = 'Throttling';
  return err;
}

describe('IAM throttling backoff with jitter', () => {
  it('retries a throttled call with growing, jittered delays and then succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await withThrottleRetry(
      'CreateRole',
      async () => {
        calls++;
        if (calls < 4) throw throttled();
        return 'ok';
      },
      { baseMs: 100, capMs: 10_000, random: () => 0.5, sleep: async (ms) => void delays.push(ms) },
    );
    assert.equal(result, 'ok');
    assert.equal(calls, 4);
    assert.deepEqual(delays, [50, 100, 200]);
  });

  it('draws each delay from zero to the capped exponential (full jitter)', () => {
    assert.equal(backoffDelay(3, 100, 10_000, () => 0), 0);
    assert.equal(backoffDelay(3, 100, 10_000, () => 0.999), 799);
    assert.equal(backoffDelay(20, 100, 10_000, () => 0.999), 9990);
  });

  it('gives up after the last attempt with PODIAM_IAM_THROTTLED and the cause', async () => {
    let calls = 0;
    await assert.rejects(
      withThrottleRetry('PutRolePolicy', async () => {
        calls++;
        throw throttled();
      }, { maxAttempts: 3, sleep: async () => {} }),
      (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_IAM_THROTTLED' && (err.cause as Error).name === 'Throttling',
    );
    assert.equal(calls, 3);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    const denied = Object.assign(new Error('no'), { name: 'AccessDenied' });
    await assert.rejects(withThrottleRetry('GetRole', async () => {
      calls++;
      throw denied;
    }, { sleep: async () => {} }), denied);
    assert.equal(calls, 1);
  });

  it('stops retrying when the next sleep would pass the deadline', async () => {
    let calls = 0;
    await assert.rejects(
      withThrottleRetry('CreateRole', async () => {
        calls++;
        throw throttled();
      }, { deadline: Date.now() + 10, baseMs: 1000, random: () => 1, sleep: async () => {} }),
      { code: 'PODIAM_IAM_THROTTLED' },
    );
    assert.equal(calls, 1);
  });

  it('recognises HTTP 429 as throttling', () => {
    assert.ok(isThrottling({ name: 'Unknown', $metadata: { httpStatusCode: 429 } }));
    assert.ok(!isThrottling({ name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } }));
  });

  it('runs at most the given number of tasks at once and keeps the order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});
