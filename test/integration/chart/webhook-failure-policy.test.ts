// Issue 11 item 12: a webhook that cannot decide (here: IAM throttling every attempt, injected in
// front of moto) must leave the decision to the chart's failurePolicy. The handler answered such
// failures 200 allowed:false, which the API server takes as a real denial, so `failurePolicy:
// Ignore` (the chart's default, "an outage never blocks rollouts") never applied. Through the real
// API server: with Ignore the pod is admitted, with Fail it is refused naming the webhook's error,
// and a real denial (no policy file) stays a denial under Ignore.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { podManifest, roleAnnotation, startWebhookCluster, type WebhookCluster } from './webhook-cluster.ts';

describe('the chart\'s failurePolicy decides when the admission function cannot', () => {
  let w: WebhookCluster;

  before(async () => {
    w = await startWebhookCluster(['orders']);
    await w.install();
  });
  after(async () => {
    await w?.stop();
  });

  const exists = async (name: string) => (await w.c.kubectl(['get', 'pod', name, '-n', 'orders'])).ok;

  it('admits a pod with failurePolicy Ignore while IAM throttles every attempt, after the webhook answered 503', async () => {
    w.faults.throttle('GetRole', 1_000_000);
    const calls = w.calls.length;

    const r = await w.c.kubectl(['create', '-f', '-'], podManifest('orders', 'ignored-1', roleAnnotation('reader')));

    assert.ok(r.ok, r.stderr);
    assert.equal(w.calls.length, calls + 1, 'the webhook was not called');
    assert.equal(w.calls.at(-1)!.status, 503);
    assert.equal(await exists('ignored-1'), true);
  });

  it('still refuses a pod whose role has no policy file under Ignore: a real denial is not a failure', async () => {
    w.faults.reset();

    const r = await w.c.kubectl(['create', '-f', '-'], podManifest('orders', 'billing-1', roleAnnotation('billing')));

    assert.equal(r.ok, false);
    assert.match(r.stderr, /denied the request: PODIAM_ROLE_NOT_IN_BUNDLE/);
    assert.equal(w.calls.at(-1)!.status, 200);
  });

  it('refuses the pod with failurePolicy Fail while IAM throttles, naming the webhook and its error code', async () => {
    await w.install({ failurePolicy: 'Fail' });
    w.faults.reset();
    w.faults.throttle('GetRole', 1_000_000);

    const r = await w.c.kubectl(['create', '-f', '-'], podManifest('orders', 'failed-1', roleAnnotation('reader')));

    assert.equal(r.ok, false, 'the API server admitted the pod');
    assert.match(r.stderr, /failed calling webhook "pod-role\.podiam\.io"/);
    assert.match(r.stderr, /PODIAM_IAM_THROTTLED: IAM GetRole was still throttled/);
    assert.equal(w.calls.at(-1)!.status, 503);
    assert.equal(await exists('failed-1'), false);
  });

  it('admits the same pod with Fail once IAM answers again', async () => {
    w.faults.reset();

    const r = await w.c.kubectl(['create', '-f', '-'], podManifest('orders', 'failed-1', roleAnnotation('reader')));

    assert.ok(r.ok, r.stderr);
    assert.equal(w.calls.at(-1)!.status, 200);
  });
});
