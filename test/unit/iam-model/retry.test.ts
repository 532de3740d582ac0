// What is left of iam-model/src/retry.ts once the SDK does the retrying: throttling recognition
// and bounded parallelism. The retries themselves are tested against moto behind a fault
// injector (test/integration/functions/throttling-and-budget.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isThrottling, mapLimit } from '../../../iam-model/src/retry.ts';

describe('throttling recognition', () => {
  it("recognises IAM's Throttling error and HTTP 429 as throttling, and nothing else", () => {
    assert.ok(isThrottling(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })));
    assert.ok(isThrottling({ name: 'Unknown', $metadata: { httpStatusCode: 429 } }));
    assert.ok(!isThrottling({ name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } }));
    assert.ok(!isThrottling(Object.assign(new Error('no'), { name: 'AccessDenied' })));
  });
});

describe('bounded parallel map', () => {
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
