// Issue 10 item 6: the webhook URL carries the webhook secret, so the chart takes it from an
// existing Secret (webhook.urlSecret) read with `lookup` at install/upgrade time, not from a value.
// Client-only `helm template` sees no Secret: it must fail with the fix, never render a webhook
// without a URL. The install through a real API server is in test/integration/chart/admission.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { render, tryRender } from './chart.ts';

describe('chart: webhook URL from an existing Secret', () => {
  it('refuses to render urlSecret without the cluster, naming the Secret and the command that creates it', async () => {
    const r = await tryRender({ clusterName: 'prod', webhook: { urlSecret: { name: 'podiam-webhook-url' } } });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /Secret kube-system\/podiam-webhook-url was not found \(helm template cannot read Secrets: use --dry-run=server\)/);
    assert.match(r.stderr, /kubectl -n kube-system create secret generic podiam-webhook-url --from-literal=url=/);
  });

  it('refuses urlSecret and url together', async () => {
    const r = await tryRender({ clusterName: 'prod', webhook: { url: 'https://x.lambda-url.us-east-1.on.aws/admit/0123456789abcdef0123456789abcdef', urlSecret: { name: 'podiam-webhook-url' } } });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /set webhook.urlSecret.name or webhook.url, not both/);
  });

  it('refuses a Secret key that is not a Secret data key (values schema)', async () => {
    const r = await tryRender({ clusterName: 'prod', webhook: { urlSecret: { name: 'podiam-webhook-url', key: 'the url' } } });
    assert.equal(r.ok, false);
    assert.match(r.stderr, /\/webhook\/urlSecret\/key/);
  });

  it('renders no webhook when neither is set', async () => {
    const objects = await render({ clusterName: 'prod' });
    assert.ok(!objects.some((o) => o.kind === 'ValidatingWebhookConfiguration'));
  });
});
