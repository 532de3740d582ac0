// Issue 15: the chart's MutatingWebhookConfiguration (tokenIdentity.enabled), applied by a real
// kube-apiserver through the admission function's real handler at /mutate/<secret>, served over
// HTTPS on loopback (webhook-cluster.ts). Each pod is read back from the API server: the projected
// token volume must have been accepted by its validation, and only the pods the chart selects
// (annotated "true", or in a labelled namespace and not "false") are changed. The API server runs its
// ServiceAccount admission plugin, as clusters do: it sets serviceAccountName (which a projected token
// needs) and adds its own kube-api-access volume before the webhook is called.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { TOKEN_IDENTITY_ANNOTATION } from '../../../core/src/annotations.ts';
import { startWebhookCluster, type WebhookCluster } from './webhook-cluster.ts';

interface StoredPod {
  spec: {
    hostNetwork?: boolean;
    volumes?: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken?: { audience: string; expirationSeconds: number; path: string } }> } }>;
    containers: Array<{ name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    initContainers?: Array<{ name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
  };
}

const TOKEN_ENV = [
  { name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' },
  { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', value: '/var/run/secrets/podiam.io/serviceaccount/token' },
];
const TOKEN_MOUNT = { name: 'podiam-token', mountPath: '/var/run/secrets/podiam.io/serviceaccount', readOnly: true };

/** Leaves out what the ServiceAccount admission plugin adds (kube-api-access-<random>). */
const notApiAccess = <T extends { name: string }>(items: T[] | undefined): T[] => (items ?? []).filter((i) => !i.name.startsWith('kube-api-access-'));

function pod(namespace: string, name: string, opts: { annotation?: string; hostNetwork?: boolean; spec?: Record<string, unknown> } = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    // Every pod carries some other annotation, so the matchConditions' checks (not just has()) count.
    metadata: { name, namespace, annotations: { 'example.com/team': namespace, ...(opts.annotation !== undefined ? { [TOKEN_IDENTITY_ANNOTATION]: opts.annotation } : {}) } },
    spec: { ...(opts.hostNetwork ? { hostNetwork: true } : {}), containers: [{ name: 'app', image: 'registry.example/app:1.0.0' }], ...(opts.spec ?? {}) },
  });
}

describe('token identity: the chart\'s mutating webhook, applied by a real API server', () => {
  let w: WebhookCluster;

  before(async () => {
    w = await startWebhookCluster(['plain', 'labelled'], { serviceAccounts: true });
    // No controller-manager here: the ServiceAccount plugin needs each namespace's default account.
    for (const ns of ['plain', 'labelled', 'kube-system']) assert.ok((await w.c.kubectl(['-n', ns, 'create', 'serviceaccount', 'default'])).ok);
    assert.ok((await w.c.kubectl(['label', 'namespace', 'labelled', 'podiam.io/token-identity=enabled'])).ok);
    await w.install({}, { tokenIdentity: { enabled: true } });
  });
  after(async () => {
    await w?.stop();
  });

  const create = async (manifest: string) => {
    const r = await w.c.kubectl(['create', '-f', '-'], manifest);
    assert.ok(r.ok, r.stderr);
    return r;
  };
  const read = (namespace: string, name: string) => w.c.getJson<StoredPod>(['-n', namespace, 'pod', name]);
  const mutateCalls = () => w.calls.filter((c) => c.route === 'mutate').length;
  const hasToken = (p: StoredPod) => (p.spec.volumes ?? []).some((v) => v.name === 'podiam-token');

  it('stores the MutatingWebhookConfiguration with the /mutate/ URL of the same secret', async () => {
    const mwc = await w.c.getJson<{ webhooks: Array<{ name: string; clientConfig: { url: string }; failurePolicy: string }> }>(['mutatingwebhookconfiguration', 'podiam']);
    assert.deepEqual(mwc.webhooks.map((h) => h.name), ['token-identity-pod.podiam.io', 'token-identity-namespace.podiam.io']);
    for (const h of mwc.webhooks) {
      assert.equal(h.clientConfig.url, w.admission.mutateUrl);
      assert.equal(h.failurePolicy, 'Ignore');
    }
  });

  it('gives a pod annotated "true" the projected podiam token, the env and the mount, as the API server stores it', async () => {
    const calls = mutateCalls();

    await create(pod('plain', 'opted-in', { annotation: 'true' }));

    const p = await read('plain', 'opted-in');
    assert.deepEqual(p.spec.volumes?.find((v) => v.name === 'podiam-token'), { name: 'podiam-token', projected: { sources: [{ serviceAccountToken: { audience: 'podiam', expirationSeconds: 600, path: 'token' } }], defaultMode: 420 } });
    assert.deepEqual(p.spec.containers[0]!.env, TOKEN_ENV);
    assert.deepEqual(notApiAccess(p.spec.containers[0]!.volumeMounts), [TOKEN_MOUNT]);
    assert.equal(mutateCalls(), calls + 1, 'called once, by the annotation\'s entry');
  });

  it('appends to the env, mounts and volumes a pod already has, init containers included', async () => {
    await create(pod('plain', 'busy', {
      annotation: 'true',
      spec: {
        volumes: [{ name: 'data', emptyDir: {} }],
        initContainers: [{ name: 'migrate', image: 'registry.example/m:1', env: [{ name: 'A', value: '1' }] }],
        containers: [{ name: 'app', image: 'registry.example/app:1.0.0', env: [{ name: 'B', value: '2' }], volumeMounts: [{ name: 'data', mountPath: '/data' }] }],
      },
    }));

    const p = await read('plain', 'busy');
    assert.deepEqual(notApiAccess(p.spec.volumes).map((v) => v.name), ['data', 'podiam-token']);
    assert.deepEqual(p.spec.initContainers![0]!.env, [{ name: 'A', value: '1' }, ...TOKEN_ENV]);
    assert.deepEqual(notApiAccess(p.spec.initContainers![0]!.volumeMounts), [TOKEN_MOUNT]);
    assert.deepEqual(p.spec.containers[0]!.env, [{ name: 'B', value: '2' }, ...TOKEN_ENV]);
    assert.deepEqual(notApiAccess(p.spec.containers[0]!.volumeMounts), [{ name: 'data', mountPath: '/data' }, TOKEN_MOUNT]);
  });

  it('leaves a pod without the annotation in an unlabelled namespace alone, without calling the webhook', async () => {
    const calls = mutateCalls();

    await create(pod('plain', 'not-asked'));

    assert.equal(hasToken(await read('plain', 'not-asked')), false);
    assert.equal(mutateCalls(), calls);
  });

  it('gives every pod of a labelled namespace token identity, once', async () => {
    const calls = mutateCalls();

    await create(pod('labelled', 'by-namespace'));
    await create(pod('labelled', 'both', { annotation: 'true' }));

    assert.deepEqual((await read('labelled', 'by-namespace')).spec.containers[0]!.env, TOKEN_ENV);
    assert.deepEqual((await read('labelled', 'both')).spec.containers[0]!.env, TOKEN_ENV);
    assert.equal(mutateCalls(), calls + 2, 'a pod matching both entries is sent once');
  });

  it('lets a pod of a labelled namespace opt out with "false", without calling the webhook', async () => {
    const calls = mutateCalls();

    await create(pod('labelled', 'opted-out', { annotation: 'false' }));

    const p = await read('labelled', 'opted-out');
    assert.equal(hasToken(p), false);
    assert.equal(p.spec.containers[0]!.env, undefined);
    assert.equal(mutateCalls(), calls);
  });

  it('leaves a hostNetwork pod alone, and kubectl shows why', async () => {
    const r = await create(pod('plain', 'host', { annotation: 'true', hostNetwork: true }));

    assert.equal(hasToken(await read('plain', 'host')), false);
    assert.match(r.stderr, /Warning: podiam: token identity is not given to hostNetwork pods/);
  });

  it('keeps a container\'s own container-credentials setup, with a warning, and still serves its other containers', async () => {
    const own = [{ name: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', value: '/creds' }];
    const r = await create(pod('plain', 'own-creds', {
      annotation: 'true',
      spec: { containers: [{ name: 'own', image: 'registry.example/app:1.0.0', env: own }, { name: 'app', image: 'registry.example/app:1.0.0' }] },
    }));

    const p = await read('plain', 'own-creds');
    assert.deepEqual(p.spec.containers[0]!.env, own);
    assert.deepEqual(notApiAccess(p.spec.containers[0]!.volumeMounts), []);
    assert.deepEqual(p.spec.containers[1]!.env, TOKEN_ENV);
    assert.match(r.stderr, /container own sets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; left as it is/);
  });

  it('never sends pods of kube-system, even annotated "true"', async () => {
    const calls = mutateCalls();

    await create(pod('kube-system', 'system', { annotation: 'true' }));

    assert.equal(hasToken(await read('kube-system', 'system')), false);
    assert.equal(mutateCalls(), calls);
  });

  it('with a wrong secret in the URL, gets 403 and (failurePolicy Ignore) creates the pod without token identity', async () => {
    const wrong = `${w.admission.origin}/admit/${'0'.repeat(48)}`;
    await w.install({ url: wrong }, { tokenIdentity: { enabled: true } });
    const calls = w.calls.length;

    await create(pod('plain', 'wrong-secret', { annotation: 'true' }));

    assert.equal(hasToken(await read('plain', 'wrong-secret')), false);
    const mutate = w.calls.slice(calls).filter((c) => c.route === 'mutate');
    assert.ok(mutate.length >= 1, 'the API server did call /mutate/');
    assert.ok(mutate.every((c) => c.status === 403), JSON.stringify(mutate.map((c) => c.status)));
  });
});
