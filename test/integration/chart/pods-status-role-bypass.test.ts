// Issue 11 item 13: the pods/status bypass. kube-apiserver (v1.34) keeps annotation changes made
// through the status subresource, and the chart's webhook covered only `pods`: whoever may patch
// pods/status (every kubelet for its node's pods, status-writing controllers) could swap a running
// pod's iam.amazonaws.com/role unseen by the webhook. Through the real API server and the chart.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { EXTERNAL_ID_ANNOTATION, ROLE_ANNOTATION, SESSION_TTL_ANNOTATION } from '../../../core/src/annotations.ts';
import { CLUSTER } from '../functions/harness.ts';
import { podManifest, roleAnnotation, startWebhookCluster, type WebhookCluster } from './webhook-cluster.ts';

describe('role annotations cannot be changed through pods/status', () => {
  let w: WebhookCluster;

  before(async () => {
    w = await startWebhookCluster(['orders']);
    await w.install();
    const created = await w.c.kubectl(['create', '-f', '-'], podManifest('orders', 'app', roleAnnotation('reader')));
    assert.ok(created.ok, created.stderr);
  });
  after(async () => {
    await w?.stop();
  });

  const statusPatch = (patch: object) => w.c.kubectl(['-n', 'orders', 'patch', 'pod', 'app', '--subresource=status', '--type=merge', '-p', JSON.stringify(patch)]);
  const annotations = async () => (await w.c.getJson<{ metadata: { annotations: Record<string, string> } }>(['-n', 'orders', 'pod', 'app'])).metadata.annotations;

  it('refuses a status patch that swaps the role for another namespace\'s, and the pod keeps its role', async () => {
    const other = `arn:aws:iam::${w.aws.moto.accountId}:role/podiam/${CLUSTER}/${CLUSTER}.dns.updater`;
    const calls = w.calls.length;

    const r = await statusPatch({ metadata: { annotations: roleAnnotation(other) } });

    assert.equal(r.ok, false, 'the API server stored the new role');
    assert.match(r.stderr, /admission webhook "pod-role\.podiam\.io" denied the request: PODIAM_ROLE_CHANGE_VIA_STATUS/);
    assert.equal(w.calls.length, calls + 1);
    assert.equal(w.calls.at(-1)!.review.request.subResource, 'status');
    assert.equal((await annotations())[ROLE_ANNOTATION], 'reader');
  });

  it('refuses a status patch that changes the external id or the session TTL', async () => {
    for (const [key, value] of [[EXTERNAL_ID_ANNOTATION, 'chosen-by-node'], [SESSION_TTL_ANNOTATION, '1h']] as const) {
      const r = await statusPatch({ metadata: { annotations: { [key]: value } } });
      assert.equal(r.ok, false, `the API server stored ${key}`);
      assert.match(r.stderr, /PODIAM_ROLE_CHANGE_VIA_STATUS/);
      assert.equal((await annotations())[key], undefined);
    }
  });

  it('accepts a status patch that leaves the role annotations alone', async () => {
    const r = await statusPatch({ metadata: { annotations: { 'example.com/checked': 'yes' } }, status: { message: 'checked by the node' } });

    assert.ok(r.ok, r.stderr);
    const pod = await w.c.getJson<{ metadata: { annotations: Record<string, string> }; status: { message?: string } }>(['-n', 'orders', 'pod', 'app']);
    assert.equal(pod.status.message, 'checked by the node');
    assert.equal(pod.metadata.annotations['example.com/checked'], 'yes');
    assert.equal(pod.metadata.annotations[ROLE_ANNOTATION], 'reader');
  });
});
