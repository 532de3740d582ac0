// Issue 11 item 10 (last part): the webhook saw only pods, so a Namespace whose
// iam.amazonaws.com/permitted regexp the proxy refuses (a backreference, lookaround, …) or whose
// iam.amazonaws.com/allowed-roles is not a JSON array was stored by the API server, and failed only
// later, in the proxy, for every pod asking for a role it would widen. Through the real API server
// with the chart's webhook and the admission function's real handler (webhook-cluster.ts).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ALLOWED_ROLES_ANNOTATION, PERMITTED_ANNOTATION } from '../../../core/src/annotations.ts';
import { startWebhookCluster, type WebhookCluster } from './webhook-cluster.ts';

function namespaceManifest(name: string, annotations: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } });
}

describe('namespaces with role annotations the proxy would refuse are refused by the webhook', () => {
  let w: WebhookCluster;

  before(async () => {
    w = await startWebhookCluster(['orders']);
    await w.install();
  });
  after(async () => {
    await w?.stop();
  });

  const annotationsOf = async (name: string) => (await w.c.getJson<{ metadata: { annotations?: Record<string, string> } }>(['namespace', name])).metadata.annotations ?? {};

  it('refuses to create a namespace whose permitted regexp has a backreference, naming the code and the construct', async () => {
    const calls = w.calls.length;

    const r = await w.c.kubectl(['create', '-f', '-'], namespaceManifest('hostile', { [PERMITTED_ANNOTATION]: '(a)\\1' }));

    assert.equal(r.ok, false, 'the API server stored the namespace');
    assert.match(r.stderr, /admission webhook "namespace-annotations\.podiam\.io" denied the request: PODIAM_NAMESPACE_ANNOTATION_INVALID: .*iam\.amazonaws\.com\/permitted .*backreference/i);
    assert.equal(w.calls.length, calls + 1);
    assert.equal(w.calls.at(-1)!.review.request.object.metadata.name, 'hostile');
    assert.equal((await w.c.kubectl(['get', 'namespace', 'hostile'])).ok, false, 'the namespace exists');
  });

  it('admits a namespace whose permitted regexp is one the proxy runs', async () => {
    const calls = w.calls.length;

    const r = await w.c.kubectl(['create', '-f', '-'], namespaceManifest('legacy', { [PERMITTED_ANNOTATION]: 'arn:aws:iam::\\d{12}:role/legacy/.*' }));

    assert.ok(r.ok, r.stderr);
    assert.equal(w.calls.length, calls + 1, 'the webhook was not called');
    assert.equal((await annotationsOf('legacy'))[PERMITTED_ANNOTATION], 'arn:aws:iam::\\d{12}:role/legacy/.*');
  });

  it('refuses `kubectl annotate` of allowed-roles that is not JSON, and the namespace keeps its annotations', async () => {
    const r = await w.c.kubectl(['annotate', 'namespace', 'orders', `${ALLOWED_ROLES_ANNOTATION}=not json`]);

    assert.equal(r.ok, false, 'the API server stored the annotation');
    assert.match(r.stderr, /denied the request: PODIAM_NAMESPACE_ANNOTATION_INVALID: .*iam\.amazonaws\.com\/allowed-roles is not valid JSON/);
    assert.equal((await annotationsOf('orders'))[ALLOWED_ROLES_ANNOTATION], undefined);
  });

  it('admits `kubectl annotate` of allowed-roles that is a JSON array of globs', async () => {
    const r = await w.c.kubectl(['annotate', '--overwrite', 'namespace', 'orders', `${ALLOWED_ROLES_ANNOTATION}=["legacy-*"]`]);

    assert.ok(r.ok, r.stderr);
    assert.equal((await annotationsOf('orders'))[ALLOWED_ROLES_ANNOTATION], '["legacy-*"]');
  });

  it('never calls the webhook for a namespace without podiam annotations (matchConditions)', async () => {
    const calls = w.calls.length;

    const created = await w.c.kubectl(['create', '-f', '-'], namespaceManifest('plain', { 'example.com/team': 'plain' }));
    const annotated = await w.c.kubectl(['annotate', 'namespace', 'plain', 'example.com/owner=platform']);

    assert.ok(created.ok, created.stderr);
    assert.ok(annotated.ok, annotated.stderr);
    assert.equal(w.calls.length, calls);
  });
});
