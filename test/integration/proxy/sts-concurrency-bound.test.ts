// The bound on AssumeRole calls in flight (PODIAM_PREFETCH_CONCURRENCY), against the real API
// server and moto as STS, with a counting relay (test/peers/iam-fault-injector.ts) between the
// proxy and moto. Unbounded, 10,000 pods appearing on a node made 43,177 AssumeRole calls (most
// timing out and retried), which against real STS is throttling for the whole account (issue 16).
// Attacker: anyone who may create pods on the node (a Deployment scaled to 1,000 replicas), or
// nobody at all (a proxy restart on a full node).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api } from '@kubernetes/client-node';
import { KubeClient } from '../../../proxy/src/k8s/api-client.ts';
import { managedRoleName, podSessionName } from '../../../core/src/naming.ts';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startIamFaultInjector, type IamFaultInjector } from '../../peers/iam-fault-injector.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { call, TEST_ROLE_ARNS, testConfig } from './helpers.ts';

const PODS = 1_000;
const LIMIT = 4;
const NODE = 'node-crowded';
const ROLE = managedRoleName({ cluster: 'test', namespace: 'orders', service: 'reader' });
const CREDS = `/latest/meta-data/iam/security-credentials/${ROLE}`;

const podName = (i: number): string => `p-${String(i).padStart(4, '0')}`;
/** 127.0.10.1 … 127.0.13.250: loopback source addresses, one per pod. */
const podIp = (i: number): string => `127.0.${10 + Math.floor(i / 250)}.${1 + (i % 250)}`;

/** Polls fn until it returns true; bounded by count and time. */
async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000 && Date.now() < end; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('AssumeRole calls in flight are bounded, asking pods first', () => {
  let peers: Peers;
  let sts: IamFaultInjector;
  let api: CoreV1Api;
  const running: RunningProxy[] = [];

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    sts = await startIamFaultInjector(peers.moto!.endpoint);
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNamespace({ body: { metadata: { name: 'orders' } } });
  });

  after(async () => {
    for (const p of running) await p.stop();
    await sts?.stop();
    await peers?.stop();
  });

  async function start(extra: Record<string, string> = {}): Promise<RunningProxy> {
    const proxy = await startProxy(
      testConfig({
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
        PODIAM_STS_ENDPOINT: sts.endpoint,
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_NODE_NAME: NODE,
        PODIAM_EVENTS: 'false',
        PODIAM_PREFETCH_CONCURRENCY: String(LIMIT),
        ...extra,
      }),
      { kube: await KubeClient.fromKubeconfigFile(peers.kube!.kubeconfigPath) },
    );
    running.push(proxy);
    await proxy.ready;
    return proxy;
  }

  async function stop(proxy: RunningProxy): Promise<void> {
    await proxy.stop();
    running.splice(running.indexOf(proxy), 1);
  }

  const prefetchedAll = (proxy: RunningProxy): boolean =>
    proxy.cache.size === PODS && proxy.cache.load.inFlight === 0 && proxy.cache.load.queued === 0 && sts.attempts('AssumeRole') >= PODS;

  /** Pods with a role, Running at their IP (the status patch stands in for the kubelet), 25 at a time. */
  async function createPods(): Promise<void> {
    for (let from = 0; from < PODS; from += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, PODS - from) }, async (_, k) => {
          const i = from + k;
          const name = podName(i);
          await api.createNamespacedPod({
            namespace: 'orders',
            body: { metadata: { name, annotations: { 'iam.amazonaws.com/role': 'reader' } }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'example.invalid/none:1' }] } },
          });
          await api.patchNamespacedPodStatus({ name, namespace: 'orders', body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: podIp(i), podIPs: [{ ip: podIp(i) }] } }] });
        }),
      );
    }
  }

  it('1,000 pods appearing on a running proxy cost one AssumeRole each, never more than the limit in flight', async () => {
    // Prepare
    const proxy = await start();
    sts.reset();
    // Act
    await createPods();
    await until('every pod prefetched (or the limit broken)', () => prefetchedAll(proxy) || sts.peakInFlight('AssumeRole') > LIMIT);
    // Assess
    assert.ok(sts.attempts('AssumeRole') <= PODS * 1.05, `${sts.attempts('AssumeRole')} AssumeRole calls for ${PODS} pods`);
    assert.ok(sts.peakInFlight('AssumeRole') <= LIMIT, `${sts.peakInFlight('AssumeRole')} AssumeRole calls in flight at once; the limit is ${LIMIT}`);
    const answer = await call(proxy.port, CREDS, { from: podIp(PODS - 1) });
    assert.equal(answer.status, 200);
    await stop(proxy);
  });

  it('a proxy restarting on a node with 1,000 pods costs one AssumeRole each, never more than the limit in flight', async () => {
    // Prepare: the pods exist (previous test); a fresh proxy lists them all at once.
    sts.reset();
    // Act
    const proxy = await start();
    await until('every pod prefetched (or the limit broken)', () => prefetchedAll(proxy) || sts.peakInFlight('AssumeRole') > LIMIT);
    // Assess
    assert.ok(sts.attempts('AssumeRole') <= PODS * 1.05, `${sts.attempts('AssumeRole')} AssumeRole calls for ${PODS} pods`);
    assert.ok(sts.peakInFlight('AssumeRole') <= LIMIT, `${sts.peakInFlight('AssumeRole')} AssumeRole calls in flight at once; the limit is ${LIMIT}`);
    await stop(proxy);
  });

  it('serves a pod that asks before the prefetches queued ahead of it', async () => {
    // Prepare: STS holds every call, so the first LIMIT prefetches stay in flight and the rest queue.
    sts.reset();
    sts.hold('AssumeRole');
    const proxy = await start();
    await until('the limit reached and the rest queued', () => sts.held('AssumeRole') === LIMIT && proxy.cache.load.queued === PODS - LIMIT);
    const asking = PODS - 1; // listed last (pods list by name), so its prefetch is at the back of the queue
    // Act: the pod asks while its prefetch is queued (it is told to come back: STS is holding), then STS answers.
    const early = await call(proxy.port, CREDS, { from: podIp(asking) });
    assert.equal(early.status, 503);
    sts.release();
    await until('the asking pod served', async () => (await call(proxy.port, CREDS, { from: podIp(asking) })).status === 200, 30_000);
    // Assess: its AssumeRole was the first to start after the held ones, ahead of 995 prefetches.
    const order = sts.log('AssumeRole').map((p) => p.get('RoleSessionName'));
    const position = order.indexOf(podSessionName('orders', podName(asking)));
    assert.ok(position >= 0, 'the asking pod\'s AssumeRole reached STS');
    assert.ok(position < LIMIT * 2, `the asking pod's AssumeRole was call number ${position + 1} of ${order.length}`);
    assert.ok(sts.peakInFlight('AssumeRole') <= LIMIT, `${sts.peakInFlight('AssumeRole')} AssumeRole calls in flight at once; the limit is ${LIMIT}`);
    await stop(proxy);
  });
});
