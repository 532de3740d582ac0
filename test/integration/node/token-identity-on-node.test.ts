// Token identity on a real node (issue 15, with issue 12's node): the chart installed with
// tokenIdentity.enabled, so the real kube-apiserver calls the admission function's /mutate/<secret>
// (served over TLS as in `npm run demo -- --node`, demo/node-world.ts) and applies its patch; the
// kubelet writes its own projected service-account token into the application pod's container, and
// the AWS SDK for JavaScript v3 and botocore in that container, with their unmodified default chains,
// send it to 169.254.170.23, which the proxy's second DNAT rule sends to its token door. Each pod gets
// its own role, checked with STS GetCallerIdentity against moto.
//
// Only the token door can answer: the opted-in namespace carries podiam.io/ip-identity: disabled, so
// the metadata path refuses its pods (checked here too), and the proxy's metrics count the answers
// under route="token-credentials". The tests share one world and run in order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { managedRoleName } from '../../../core/src/naming.ts';
import { DEMO_NAMES } from '../../../demo/checks.ts';
import { RELEASE, RELEASE_NAMESPACE, appPodManifest, startNodeWorld, type AppPodSpec, type NodeWorld, type RunResult } from '../../../demo/node-world.ts';
import { TOKEN_DOOR_URL } from '../../../core/src/annotations.ts';
import { FULL_URI_ENV, TOKEN_FILE, TOKEN_FILE_ENV, TOKEN_MOUNT_PATH, TOKEN_VOLUME_NAME } from '../../../functions/admission/mutation.ts';
import { nodeIp, nodeSkipReason } from '../../peers/node.ts';

const skip = nodeSkipReason();

const ACCOUNT = '123456789012';
const AUDIENCE = 'podiam';
const TOKEN_PORT = 8182;
const METRICS_PORT = 9181;
/** Opted in namespace-wide by label, and token-only: the metadata path refuses its pods. */
const TOKEN_NS = 'orders';
/** Not opted in: only a pod annotated podiam.io/token-identity: "true" is sent to the webhook. */
const ANNOTATED_NS = 'dns';

const roleOf = (namespace: string, service: string) => managedRoleName({ cluster: DEMO_NAMES.cluster, namespace, service });
const sessionOf = (namespace: string, service: string) =>
  new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/${roleOf(namespace, service).replace(/[.]/g, '\\.')}/`);

interface PodJson {
  metadata: { uid: string; name: string; namespace: string };
  spec: {
    serviceAccountName?: string;
    volumes?: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string } }> } }>;
    containers: Array<{ name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
  };
}

interface TokenClaims {
  iss: string;
  aud: string[] | string;
  exp: number;
  iat: number;
  sub: string;
  'kubernetes.io'?: { namespace?: string; pod?: { name: string; uid: string }; serviceaccount?: { name: string } };
}

/** The payload of a JWT, unverified: the proxy verifies; the test only reads what the kubelet asked for. */
function claimsOf(jwt: string): TokenClaims {
  const parts = jwt.trim().split('.');
  assert.equal(parts.length, 3, 'the token file does not hold a JWT');
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as TokenClaims;
}

// Run inside a pod (`node --input-type=module -e`): one bounded request, printed as {status, body}.
// URL, HEADER (an Authorization value; none when unset) and, for the metadata path, IMDS=1 (IMDSv2:
// a session token first, as the SDKs ask).
const askScript = `
const signal = AbortSignal.timeout(5000);
let headers = {};
if (process.env.IMDS === '1') {
  const put = await fetch('http://169.254.169.254/latest/api/token', { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, signal });
  if (put.status !== 200) { console.log(JSON.stringify({ status: put.status, body: await put.text(), step: 'token' })); process.exit(0); }
  headers = { 'x-aws-ec2-metadata-token': await put.text() };
}
if (process.env.HEADER) headers.authorization = process.env.HEADER;
const r = await fetch(process.env.URL, { headers, signal });
console.log(JSON.stringify({ status: r.status, body: await r.text() }));
`;

interface Asked {
  status: number;
  body: string;
  step?: string;
}

describe('token identity on a real node: the webhook\'s mutation, the kubelet\'s projected token, 169.254.170.23', { skip }, () => {
  let world: NodeWorld;
  const timings: Record<string, number> = {};

  const ask = async (namespace: string, pod: string, env: Record<string, string>): Promise<Asked> => {
    const r = await world.execInPod(namespace, pod, ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'node', '--input-type=module', '-e', askScript], 30_000);
    assert.ok(r.ok, `asking from ${namespace}/${pod}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Asked;
  };
  const podJson = async (namespace: string, name: string): Promise<PodJson> => {
    const r = await world.kubectl(['get', 'pod', name, '-n', namespace, '-o', 'json']);
    assert.ok(r.ok, r.stderr);
    return JSON.parse(r.stdout) as PodJson;
  };
  const tokenIn = async (namespace: string, name: string): Promise<string> => {
    const r = await world.execInPod(namespace, name, ['cat', TOKEN_FILE]);
    assert.ok(r.ok, `reading ${TOKEN_FILE} in ${namespace}/${name}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The SDK's answer; the wall-clock time of the call (a new process, so a new credential lookup). */
  const whoami = async (namespace: string, name: string, sdk: 'js' | 'py'): Promise<RunResult & { ms: number }> => {
    const t0 = Date.now();
    const r = await world.execInPod(namespace, name, sdk === 'js' ? ['node', '/app/sts-whoami.mjs'] : ['python3', '/app/sts_whoami.py']);
    return { ...r, ms: Date.now() - t0 };
  };
  const applyPod = async (spec: AppPodSpec, annotations: Record<string, string>): Promise<void> => {
    const manifest = appPodManifest(spec, world.images.app.ref) as { metadata: { annotations?: Record<string, string> } };
    manifest.metadata.annotations = { ...manifest.metadata.annotations, ...annotations };
    const created = await world.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
    assert.ok(created.ok, created.stderr);
    const ready = await world.kubectl(['wait', '--for=condition=Ready', `pod/${spec.name}`, '-n', spec.namespace, '--timeout=90s']);
    assert.ok(ready.ok, ready.stderr);
  };
  const tokenAnswers = async (): Promise<number> => {
    const { stdout } = await world.node.execInNode('curl', ['-sS', '--max-time', '5', `http://${nodeIp}:${METRICS_PORT}/metrics`]);
    let n = 0;
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('podiam_proxy_request_duration_seconds_count{')) continue;
      if (/route="token-credentials"/.test(line) && /status="200"/.test(line)) n += Number(line.split(' ').at(-1));
    }
    return n;
  };

  before(async () => {
    const t0 = Date.now();
    world = await startNodeWorld();
    timings.nodeUpMs = world.node.upMs;
    timings.worldMs = Date.now() - t0;
    const installed = await world.installChart({ tokenIdentity: { enabled: true } });
    assert.ok(installed.ok, `helm upgrade --install with tokenIdentity.enabled failed: ${installed.stderr}`);
    timings.chartInstalledMs = Date.now() - t0;
  });
  after(async () => {
    await world?.stop();
  });

  it('registers the mutating webhook at the admission function\'s /mutate/<secret>, and the proxy adds the 169.254.170.23 DNAT rule on the bridge', async () => {
    const r = await world.kubectl(['get', 'mutatingwebhookconfiguration', RELEASE, '-o', 'json']);
    assert.ok(r.ok, r.stderr);
    const config = JSON.parse(r.stdout) as { webhooks: Array<{ name: string; clientConfig: { url?: string } }> };
    assert.deepEqual(config.webhooks.map((w) => w.clientConfig.url), config.webhooks.map(() => world.admission.mutateUrl));

    const nat = (await world.node.execInNode('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes('169.254.170.23'));
    assert.ok(
      nat.some((l) => l.includes(`-i ${world.hostInterface}`) && /--dport 80\b/.test(l) && l.includes(`--to-destination ${nodeIp}:${TOKEN_PORT}`)),
      `no DNAT rule for 169.254.170.23 on ${world.hostInterface}:\n${nat.join('\n')}`,
    );
  });

  it('has the API server apply the function\'s mutation to pods of a labelled namespace: the projected token volume, the env and the mount', async () => {
    const ns = await world.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: TOKEN_NS, labels: { 'podiam.io/token-identity': 'enabled' }, annotations: { 'podiam.io/ip-identity': 'disabled' } },
    }));
    assert.ok(ns.ok, ns.stderr);
    const t0 = Date.now();
    await Promise.all([
      world.createAppPod({ namespace: TOKEN_NS, name: 'reader', role: 'reader' }),
      world.createAppPod({ namespace: TOKEN_NS, name: 'ledger', role: 'ledger' }),
    ]);
    timings.podsReadyMs = Date.now() - t0;

    for (const name of ['reader', 'ledger']) {
      const pod = await podJson(TOKEN_NS, name);
      // Set by the ServiceAccount admission plugin before the webhook is called; the projection needs it.
      assert.equal(pod.spec.serviceAccountName, 'default');
      const volume = pod.spec.volumes?.find((v) => v.name === TOKEN_VOLUME_NAME);
      assert.deepEqual(volume?.projected?.sources, [{ serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 600, path: 'token' } }], `${name}: ${JSON.stringify(pod.spec.volumes)}`);
      const app = pod.spec.containers[0]!;
      assert.deepEqual(app.env?.filter((e) => e.name === FULL_URI_ENV || e.name === TOKEN_FILE_ENV), [
        { name: FULL_URI_ENV, value: TOKEN_DOOR_URL },
        { name: TOKEN_FILE_ENV, value: TOKEN_FILE },
      ]);
      assert.ok(app.volumeMounts?.some((m) => m.name === TOKEN_VOLUME_NAME && m.mountPath === TOKEN_MOUNT_PATH && m.readOnly === true), JSON.stringify(app.volumeMounts));
    }
  });

  it('finds in each container the kubelet\'s own projected token: podiam\'s audience, bound to that pod, 600 s', async () => {
    for (const name of ['reader', 'ledger']) {
      const [pod, token] = await Promise.all([podJson(TOKEN_NS, name), tokenIn(TOKEN_NS, name)]);
      const claims = claimsOf(token);
      assert.deepEqual([claims.aud].flat(), [AUDIENCE]);
      assert.equal(claims.iss, 'https://kubernetes.default.svc');
      assert.equal(claims.sub, `system:serviceaccount:${TOKEN_NS}:default`);
      assert.deepEqual(claims['kubernetes.io']?.pod, { name, uid: pod.metadata.uid });
      assert.equal(claims.exp - claims.iat, 600);
    }
  });

  it('gives the JS SDK v3 and botocore in each pod its own role through 169.254.170.23, with their default chains', async (t) => {
    const before = await tokenAnswers();
    for (const service of ['reader', 'ledger']) {
      const js = await whoami(TOKEN_NS, service, 'js');
      assert.ok(js.ok, `${service} (JS v3): ${js.stderr}`);
      assert.match(js.stdout.trim(), sessionOf(TOKEN_NS, service));
      timings[`firstCredential.${service}.jsMs`] ??= js.ms;
      const py = await whoami(TOKEN_NS, service, 'py');
      assert.ok(py.ok, `${service} (botocore): ${py.stderr}`);
      assert.match(py.stdout.trim(), sessionOf(TOKEN_NS, service));
      timings[`${service}.botocoreMs`] ??= py.ms;
    }
    // Four SDK processes, each a fresh credential lookup: every one went through the token door.
    assert.ok((await tokenAnswers()) - before >= 4, 'the proxy counted fewer than four token-credentials answers');
    t.diagnostic(`timings (ms): ${JSON.stringify(timings)}`);
  });

  it('refuses the same pods on the metadata path: their namespace is token-only', async () => {
    const r = await ask(TOKEN_NS, 'reader', { IMDS: '1', URL: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });

    assert.equal(r.status, 403, JSON.stringify(r));
    assert.equal((JSON.parse(r.body) as { code?: string }).code, 'PODIAM_IP_IDENTITY_DISABLED');
  });

  it('refuses one pod\'s token sent from another pod, and a request without a token', async () => {
    const readerToken = await tokenIn(TOKEN_NS, 'reader');

    const stolen = await ask(TOKEN_NS, 'ledger', { URL: TOKEN_DOOR_URL, HEADER: readerToken });
    const none = await ask(TOKEN_NS, 'ledger', { URL: TOKEN_DOOR_URL });

    assert.equal(stolen.status, 403, JSON.stringify(stolen));
    assert.equal((JSON.parse(stolen.body) as { code?: string }).code, 'PODIAM_TOKEN_SOURCE_MISMATCH');
    assert.doesNotMatch(stolen.body, /AccessKeyId/);
    assert.equal(none.status, 401, JSON.stringify(none));
    assert.equal((JSON.parse(none.body) as { code?: string }).code, 'PODIAM_TOKEN_MISSING');
  });

  it('mutates an annotated pod in a namespace that did not opt in, and leaves its unannotated neighbour alone', async () => {
    const made = await world.kubectl(['create', 'namespace', ANNOTATED_NS]);
    assert.ok(made.ok, made.stderr);
    await Promise.all([
      applyPod({ namespace: ANNOTATED_NS, name: 'updater', role: 'updater' }, { 'podiam.io/token-identity': 'true' }),
      world.createAppPod({ namespace: ANNOTATED_NS, name: 'plain', role: 'updater' }),
    ]);
    const [annotated, plain] = await Promise.all([podJson(ANNOTATED_NS, 'updater'), podJson(ANNOTATED_NS, 'plain')]);
    assert.ok(annotated.spec.volumes?.some((v) => v.name === TOKEN_VOLUME_NAME));
    assert.equal(plain.spec.volumes?.some((v) => v.name === TOKEN_VOLUME_NAME) ?? false, false);
    assert.equal(plain.spec.containers[0]!.env?.some((e) => e.name === FULL_URI_ENV) ?? false, false);

    const before = await tokenAnswers();
    const js = await whoami(ANNOTATED_NS, 'updater', 'js');
    assert.ok(js.ok, `updater (JS v3): ${js.stderr}`);
    assert.match(js.stdout.trim(), sessionOf(ANNOTATED_NS, 'updater'));
    assert.ok((await tokenAnswers()) > before, 'the annotated pod was not answered by the token door');
    // Its neighbour keeps the metadata path, which this namespace still offers.
    const py = await whoami(ANNOTATED_NS, 'plain', 'py');
    assert.ok(py.ok, `plain (botocore): ${py.stderr}`);
    assert.match(py.stdout.trim(), sessionOf(ANNOTATED_NS, 'updater'));
  });

  it('leaves neither DNAT rule nor the mutating webhook after helm uninstall', async () => {
    const r = await world.helm(['uninstall', RELEASE, '-n', RELEASE_NAMESPACE, '--wait', '--timeout', '90s']);
    assert.ok(r.ok, r.stderr);
    const nat = async () => (await world.node.execInNode('iptables-save', ['-t', 'nat'])).stdout;
    for (let i = 0; i < 60 && /169\.254\.(169\.254|170\.23)/.test(await nat()); i++) await new Promise((res) => setTimeout(res, 500));
    assert.doesNotMatch(await nat(), /169\.254\.170\.23|169\.254\.169\.254/);
    const left = await world.kubectl(['get', 'mutatingwebhookconfigurations', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
    assert.ok(left.ok, left.stderr);
    assert.equal(left.stdout.trim(), '');
  });
});
