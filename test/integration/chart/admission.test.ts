// The chart's ValidatingWebhookConfiguration, proved end to end: helm installs it against a real
// kube-apiserver with webhook.url pointing at the admission Lambda's own handler, served over HTTPS on
// loopback (functions/admission/local-server.ts) with a certificate from the test cluster's CA, and
// moto behind it for S3 (the published bundle) and IAM. The API server must call the handler for a
// pod that asks for a role, refuse one whose policy file is missing with a message naming it, and
// not call it at all for pods without the annotation or in the excluded namespaces.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { ROLE_ANNOTATION } from '../../../core/src/annotations.ts';
import { managedRoleName } from '../../../core/src/naming.ts';
import { createAdmissionHandlerFromEnv } from '../../../functions/admission/handler.ts';
import { startLocalAdmissionServer, type LocalAdmissionServer } from '../../../functions/admission/local-server.ts';
import { silentLogger } from '../../../functions/lib/log.ts';
import { webhookSecretSha256 } from '../../../functions/lib/config.ts';
import { startKube, type Kube } from '../../peers/index.ts';
import { CLUSTER, startHarness, type Harness } from '../functions/harness.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { chartDir, releaseName, releaseNamespace, withValuesFile } from '../../unit/chart/chart.ts';
import { clients } from './cluster.ts';

interface Review {
  request: { namespace: string; operation: string; dryRun?: boolean; object: { metadata: { name?: string } } };
}

function podManifest(namespace: string, name: string, role?: string): string {
  // Every pod carries some other annotation, so the matchCondition's role check (not just has()) is what counts.
  const annotations: Record<string, string> = { 'example.com/team': namespace, ...(role ? { [ROLE_ANNOTATION]: role } : {}) };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, annotations },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0.0' }] },
  });
}

describe('the chart\'s admission webhook, called by a real API server', () => {
  let kube: Kube;
  let aws: Harness;
  let admission: LocalAdmissionServer;
  let c: ReturnType<typeof clients>;
  /** What the API server sent to the handler, in order. */
  const reviews: Review[] = [];

  before(async () => {
    [kube, aws] = await Promise.all([startKube(), startHarness()]);
    c = clients(kube);
    await aws.publish(exampleBundle());
    const cert = await kube.issueServingCert({ ips: ['127.0.0.1'] });
    const secret = randomBytes(24).toString('hex');
    const env = { ...aws.env, PODIAM_WEBHOOK_SECRET: secret, PODIAM_ACCOUNT_ID: aws.moto.accountId };
    // The function holds only the hash; the local server builds the URL from the secret.
    const real = createAdmissionHandlerFromEnv({ ...process.env, ...aws.env, PODIAM_ACCOUNT_ID: aws.moto.accountId, PODIAM_WEBHOOK_SECRET_SHA256: webhookSecretSha256(secret) }, silentLogger);
    admission = await startLocalAdmissionServer({
      key: cert.keyPem,
      cert: cert.certPem,
      env,
      log: silentLogger,
      handler: async (event: LambdaFunctionURLEvent) => {
        reviews.push(JSON.parse(event.body ?? '{}') as Review);
        return real(event);
      },
    });
    // The URL (which carries the webhook secret) comes from a Secret, never from a value.
    assert.ok((await c.kubectl(['-n', releaseNamespace, 'create', 'secret', 'generic', 'podiam-webhook-url', `--from-literal=url=${admission.url}`])).ok);
    const installed = await withValuesFile({ clusterName: CLUSTER, webhook: { urlSecret: { name: 'podiam-webhook-url' }, caBundle: cert.caPem } }, (file) =>
      c.helm(['upgrade', '--install', releaseName, chartDir, '-n', releaseNamespace, '--values', file]),
    );
    assert.ok(installed.ok, installed.stderr);
    for (const ns of ['orders', 'payments']) assert.ok((await c.kubectl(['create', 'namespace', ns])).ok);
  });
  after(async () => {
    await admission?.stop();
    await Promise.allSettled([kube?.stop(), aws?.stop()]);
  });

  it('stores the webhook configuration with the URL read from the Secret, and the test CA', async () => {
    const vwc = await c.getJson<{ webhooks: Array<{ clientConfig: { url: string; caBundle: string }; failurePolicy: string }> }>([
      'validatingwebhookconfiguration',
      releaseName,
    ]);
    assert.equal(vwc.webhooks[0]!.clientConfig.url, admission.url);
    assert.match(Buffer.from(vwc.webhooks[0]!.clientConfig.caBundle, 'base64').toString('utf8'), /BEGIN CERTIFICATE/);
    assert.equal(vwc.webhooks[0]!.failurePolicy, 'Ignore');
  });

  it('refuses a pod whose role has no policy file, naming the file to add', async () => {
    const calls = reviews.length;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('orders', 'billing-job', 'billing'));
    assert.equal(r.ok, false, 'the API server created the pod');
    assert.match(r.stderr, /admission webhook "pod-role\.podiam\.io" denied the request/);
    assert.match(r.stderr, /policies\/orders\/billing\.json/);
    assert.equal(reviews.length, calls + 1);
    assert.equal((await c.kubectl(['get', 'pod', 'billing-job', '-n', 'orders'])).ok, false, 'nothing stored');
  });

  it('refuses a pod asking for another namespace\'s role', async () => {
    const arn = `arn:aws:iam::${aws.moto.accountId}:role/podiam/${CLUSTER}/${CLUSTER}-dns-updater`;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('orders', 'sneaky', arn));
    assert.equal(r.ok, false, 'the API server created the pod');
    assert.match(r.stderr, /denied the request/);
  });

  it('admits a pod whose role is in the bundle, creating the role on demand', async () => {
    const calls = reviews.length;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('orders', 'reader-1', 'reader'));
    assert.ok(r.ok, r.stderr);
    assert.equal(reviews.length, calls + 1);
    assert.equal(reviews.at(-1)!.request.object.metadata.name, 'reader-1');
    const role = await aws.iam.send(new GetRoleCommand({ RoleName: managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'reader' }) }));
    assert.equal(role.Role?.Path, `/podiam/${CLUSTER}/`);
  });

  it('sends a dry-run create too (sideEffects NoneOnDryRun), and refuses it the same way', async () => {
    const calls = reviews.length;
    const r = await c.kubectl(['create', '--dry-run=server', '-f', '-'], podManifest('payments', 'ledger', 'ledger'));
    assert.equal(r.ok, false);
    assert.match(r.stderr, /policies\/payments\/ledger\.json/);
    assert.equal(reviews.at(-1)?.request.dryRun, true);
    assert.equal(reviews.length, calls + 1);
  });

  it('admits a server-side dry run of a pod whose role is in the bundle but missing in IAM, and creates nothing', async () => {
    const role = managedRoleName({ cluster: CLUSTER, namespace: 'orders', service: 'writer' });
    await assert.rejects(aws.iam.send(new GetRoleCommand({ RoleName: role })), { name: 'NoSuchEntityException' });
    const before = ((await aws.iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).map((r) => r.RoleName).sort();
    const calls = reviews.length;

    const r = await c.kubectl(['create', '--dry-run=server', '-f', '-'], podManifest('orders', 'writer-1', 'writer'));

    await assert.rejects(aws.iam.send(new GetRoleCommand({ RoleName: role })), { name: 'NoSuchEntityException' }, 'the dry run created the role');
    assert.deepEqual(((await aws.iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).map((r) => r.RoleName).sort(), before);
    assert.ok(r.ok, r.stderr);
    assert.equal(reviews.length, calls + 1);
    assert.equal(reviews.at(-1)?.request.dryRun, true);
    assert.match(r.stderr, /dry run: role .*writer does not exist yet and would be created/);
    assert.equal((await c.kubectl(['get', 'pod', 'writer-1', '-n', 'orders'])).ok, false, 'nothing stored');
  });

  it('never calls the webhook for a pod without the role annotation (matchConditions)', async () => {
    const calls = reviews.length;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('orders', 'plain'));
    assert.ok(r.ok, r.stderr);
    assert.equal(reviews.length, calls);
  });

  it('never calls the webhook for kube-system, so its pods start even with a missing policy', async () => {
    const calls = reviews.length;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('kube-system', 'system-agent', 'billing'));
    assert.ok(r.ok, r.stderr);
    assert.equal(reviews.length, calls);
  });

  it('is gone after helm uninstall: the same refused pod is then admitted', async () => {
    assert.ok((await c.helm(['uninstall', releaseName, '-n', releaseNamespace])).ok);
    const calls = reviews.length;
    const r = await c.kubectl(['create', '-f', '-'], podManifest('orders', 'billing-job', 'billing'));
    assert.ok(r.ok, r.stderr);
    assert.equal(reviews.length, calls);
  });
});
