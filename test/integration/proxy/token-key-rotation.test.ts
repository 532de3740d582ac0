// Rotation of the service-account issuer's signing key on a real kube-apiserver, against the
// proxy's own token verification (IssuerKeys reading the API server's OIDC discovery and JWKS,
// TokenVerifier) and against the running proxy's token door (GET /v1/credentials over loopback,
// pods indexed by a real watch, credentials from moto): tokens are minted by the TokenRequest
// API, bound to a pod, audience podiam.
//
// The API server is restarted twice on the same port, etcd and CA (test/peers/kube.ts):
//   1. rotate: a new signing key; the old public key stays published beside the new one;
//   2. retire: only the new public key is published.
// Time is a clock the test moves (Date.now() plus an offset), so "until it expires" and the
// refetch rate limit need no waiting; the API server's own clock is not moved.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { KubeClient } from '../../../proxy/src/k8s/api-client.ts';
import { startPeers, type Kube, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { systemClock, type Clock } from '../../../proxy/src/clock.ts';
import { IssuerKeys, apiServerIssuer } from '../../../proxy/src/token/issuer-keys.ts';
import { TokenVerifier } from '../../../proxy/src/token/verifier.ts';
import type { TokenCheck } from '../../../proxy/src/token/jwt.ts';
import { call, TEST_ROLE_ARNS, testConfig, type HttpAnswer } from './helpers.ts';

const AUDIENCE = 'podiam';
// A namespace and role the moto roles of helpers.ts cover (test.orders.reader).
const NAMESPACE = 'orders';
const POD_IP = '127.0.0.21';
const SERVICE_ACCOUNT = 'app';
const MIN_REFETCH_MS = 10_000;
// Shorter than the production default (10 min) and than the tokens' 10 min, so the periodic
// refresh can be reached before they expire.
const REFRESH_MS = 2 * 60_000;

/** Wall time plus an offset the test moves forward; timers are the system's. */
class MovableClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  schedule(ms: number, fn: () => void): () => void {
    return systemClock.schedule(ms, fn);
  }
  sleep(ms: number): Promise<void> {
    return systemClock.sleep(ms);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

interface Minted {
  raw: string;
  kid: string;
  /** Seconds since the epoch. */
  exp: number;
}

function claimsOf(raw: string): { header: { kid?: string }; payload: { exp: number } } {
  const [h, p] = raw.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as { kid?: string }, payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as { exp: number } };
}

function codeOf(check: TokenCheck): string {
  return check.kind === 'bound' ? 'bound' : check.code;
}

/** The door's answer as one comparable value: 200 with an access key, or the status and code. */
function doorOutcome(a: HttpAnswer): string {
  const body = JSON.parse(a.body) as { code?: string; AccessKeyId?: string };
  return a.status === 200 && body.AccessKeyId ? '200' : `${a.status} ${body.code}`;
}

describe('service-account issuer key rotation (real kube-apiserver; the proxy\'s verifier and its token door)', () => {
  let peers: Peers;
  let kube: Kube;
  let kubeClient: KubeClient;
  let api: CoreV1Api;
  let pod: V1Pod;
  /** The proxy that runs through both restarts of the API server; its own clock. */
  let proxy: RunningProxy;
  const proxyClock = new MovableClock();
  const started: RunningProxy[] = [];

  /** A token from the TokenRequest API: audience podiam, bound to the pod, the shortest expiry the API server allows. */
  async function mint(): Promise<Minted> {
    const tr = await api.createNamespacedServiceAccountToken({
      name: SERVICE_ACCOUNT,
      namespace: NAMESPACE,
      body: { spec: { audiences: [AUDIENCE], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! } } },
    });
    const raw = tr.status!.token;
    const { header, payload } = claimsOf(raw);
    assert.ok(header.kid, 'the API server names its key in every token');
    return { raw, kid: header.kid, exp: payload.exp };
  }

  /** The proxy's verifier as main.ts builds it, reading the API server with the given clock. */
  function verifierWith(clock: Clock): TokenVerifier {
    const keys = new IssuerKeys({ source: apiServerIssuer(kubeClient), clock, minRefetchMs: MIN_REFETCH_MS, refreshMs: REFRESH_MS });
    return new TokenVerifier({ keys, audience: AUDIENCE, clock });
  }

  const clock = new MovableClock();
  let running: TokenVerifier;
  let t1: Minted;
  let t1UnseenA: Minted;
  let t1UnseenB: Minted;
  let t2: Minted;

  function startTokenProxy(clock: Clock): Promise<RunningProxy> {
    return startProxy(
      testConfig({
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_NODE_NAME: 'node-a', PODIAM_TOKEN_IDENTITY: 'true', PODIAM_TOKEN_PORT: '0',
      }),
      { kube: kubeClient, clock },
    ).then(async (p) => {
      started.push(p);
      await p.ready;
      return p;
    });
  }

  /** GET /v1/credentials on the proxy's token door, from the pod's address, with the token. */
  async function door(p: RunningProxy, token: Minted): Promise<string> {
    return doorOutcome(await call(p.tokenPort!, '/v1/credentials', { from: POD_IP, headers: { authorization: token.raw } }));
  }

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    kube = peers.kube!;
    kubeClient = await KubeClient.fromKubeconfigFile(kube.kubeconfigPath);
    await peers.moto!.createRoles([...TEST_ROLE_ARNS]);
    api = kube.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    await api.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: SERVICE_ACCOUNT } } });
    pod = await api.createNamespacedPod({
      namespace: NAMESPACE,
      body: { metadata: { name: 'app-1', annotations: { 'iam.amazonaws.com/role': 'reader' } }, spec: { nodeName: 'node-a', serviceAccountName: SERVICE_ACCOUNT, containers: [{ name: 'c', image: 'example.invalid/none:1' }] } },
    });
    // Standing in for the kubelet's status update (no kubelet runs).
    await api.patchNamespacedPodStatus({ name: 'app-1', namespace: NAMESPACE, body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: POD_IP, podIPs: [{ ip: POD_IP }] } }] });
    running = verifierWith(clock);
    proxy = await startTokenProxy(proxyClock);
  });

  after(async () => {
    for (const p of started) await p.stop();
    await peers?.stop();
  });

  it('verifies a pod-bound token signed by the first key', async () => {
    t1 = await mint();
    // Signed by the same key, shown to no verifier until the key is retired.
    t1UnseenA = await mint();
    t1UnseenB = await mint();
    const check = await running.verify(t1.raw);
    assert.equal(codeOf(check), 'bound');
    assert.deepEqual(check.kind === 'bound' && { ns: check.token.namespace, pod: check.token.podName, uid: check.token.podUid }, { ns: NAMESPACE, pod: 'app-1', uid: pod.metadata!.uid });
  });

  it('answers the first key\'s token at the running proxy\'s token door with the pod\'s credentials', async () => {
    // The pod reaches the proxy's index by its watch; bounded: 100 tries, 100 ms apart.
    let outcome = '';
    for (let i = 0; i < 100 && outcome !== '200'; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      outcome = await door(proxy, t1);
    }
    assert.equal(outcome, '200');
  });

  it('verifies a token of the new key after rotation without a restart: the unknown kid makes the running verifier read the JWKS again', async () => {
    await kube.rotateServiceAccountKey();
    t2 = await mint();
    assert.notEqual(t2.kid, t1.kid, 'the rotated API server signs with another key');
    // Past the refetch rate limit, well short of the periodic refresh: only the unknown kid can make it read again.
    clock.advance(MIN_REFETCH_MS);
    assert.equal(codeOf(await running.verify(t2.raw)), 'bound');
  });

  it('answers the new key\'s token at the running proxy\'s door after rotation, without restarting the proxy, and still the old key\'s', async () => {
    // The proxy's own refetch limit is the default, 10 s (MIN_REFETCH_MS); its periodic refresh, 10 min.
    proxyClock.advance(MIN_REFETCH_MS);
    assert.equal(await door(proxy, t2), '200');
    assert.equal(await door(proxy, t1), '200');
  });

  it('keeps verifying tokens of the old key while the API server still publishes it, in the running and in a fresh verifier', async () => {
    assert.equal(codeOf(await running.verify(t1.raw)), 'bound');
    const fresh = verifierWith(new MovableClock());
    assert.equal(codeOf(await fresh.verify(t1.raw)), 'bound');
    assert.equal(codeOf(await fresh.verify(t2.raw)), 'bound');
  });

  it('refuses a token of the retired key in a fresh verifier (PODIAM_TOKEN_INVALID) and accepts the new key\'s token', async () => {
    await kube.retireOldServiceAccountKeys();
    const fresh = verifierWith(new MovableClock());
    assert.equal(codeOf(await fresh.verify(t1.raw)), 'PODIAM_TOKEN_INVALID');
    assert.equal(codeOf(await fresh.verify(t2.raw)), 'bound');
  });

  it('refuses the retired key\'s token at a freshly started proxy\'s door (401 PODIAM_TOKEN_INVALID) and answers the new key\'s', async () => {
    const fresh = await startTokenProxy(new MovableClock());
    assert.equal(await door(fresh, t1), '401 PODIAM_TOKEN_INVALID');
    assert.equal(await door(fresh, t2), '200');
  });

  it('keeps answering the retired key\'s token at the proxy that verified it before the retirement, until the token expires (verification cached by token hash)', async () => {
    assert.equal(await door(proxy, t1), '200');
    assert.equal(await door(proxy, t2), '200');
  });

  it('in the running verifier, still accepts an unseen token of the retired key until its periodic JWKS refresh, then refuses it', async () => {
    // The running verifier last read the JWKS when T2's kid was new, before the retirement: it
    // holds the retired key until refreshMs has passed since that read (production default: 10 min).
    assert.equal(codeOf(await running.verify(t1UnseenA.raw)), 'bound');
    clock.advance(REFRESH_MS);
    assert.equal(codeOf(await running.verify(t1UnseenB.raw)), 'PODIAM_TOKEN_INVALID');
    assert.equal(codeOf(await running.verify(t2.raw)), 'bound');
  });

  it('in the running verifier, keeps accepting a retired key\'s token it has already verified until that token expires (cached by token hash)', async () => {
    // The verification of T1 is cached by the token's hash until T1's expiry: retiring the key
    // does not withdraw it. The bound is the token's lifetime (for the kubelet's projected tokens,
    // the volume's expirationSeconds).
    assert.equal(codeOf(await running.verify(t1.raw)), 'bound');
    clock.offsetMs = t1.exp * 1000 - Date.now() - 10_000;
    assert.equal(codeOf(await running.verify(t1.raw)), 'bound', 'still cached ten seconds before expiry');
    clock.offsetMs = t1.exp * 1000 - Date.now() + 1000;
    // Expired, the cache lets go; the signature is checked first, and its key is gone.
    assert.equal(codeOf(await running.verify(t1.raw)), 'PODIAM_TOKEN_INVALID');
  });
});
