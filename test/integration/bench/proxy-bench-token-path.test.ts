// The token path of `npm run bench:proxy` (issue 15), with small counts: real tokens from a real
// kube-apiserver's TokenRequest API (RSA signing key, so RS256 as kubeadm and EKS), a proxy with
// PODIAM_TOKEN_IDENTITY=true in its own process (from source), moto as STS. What would make the
// figures wrong without failing: "first" tokens that are not distinct (they would be cached
// answers), tokens not signed RS256, a door that does not verify what it has not seen, and rounds
// that do not produce every figure.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, startPeers, type Peers } from '../../peers/index.ts';
import { managedRoleArn } from '../../../core/src/naming.ts';
import { KubeApi } from '../../../bench/proxy/kube-api.ts';
import { call, saturate } from '../../../bench/proxy/load.ts';
import { TOKEN_DOOR_PATH, firstAndCached, mintTokens, oneAtATime, tokenHeader, type TokenPod } from '../../../bench/proxy/token-path.ts';

const NAMESPACE = 'bench';
const NODE = 'bench-node';
const POD_IP = '127.0.0.1';

function claimsOf(raw: string): { aud: string[]; 'kubernetes.io': { pod: { uid: string } } } {
  return JSON.parse(Buffer.from(raw.split('.')[1]!, 'base64url').toString('utf8')) as { aud: string[]; 'kubernetes.io': { pod: { uid: string } } };
}

describe('bench:proxy token path', () => {
  let peers: Peers;
  let kube: KubeApi;
  let proxy: ChildProcess;
  let pod: TokenPod;
  const ports = { door: 0, metrics: 0 };

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: { serviceAccountKey: 'rsa' } });
    await peers.moto!.createRoles([managedRoleArn({ accountId: '123456789012' }, { cluster: 'bench', namespace: NAMESPACE, service: 'reader' })]);
    kube = new KubeApi(peers.kube!);
    await kube.createNamespace(NAMESPACE);
    await kube.createServiceAccount(NAMESPACE, 'reader');
    const uid = await kube.createPod(NAMESPACE, 'load', NODE, 'reader', 'reader');
    await kube.patchPodRunning(NAMESPACE, 'load', POD_IP);
    pod = { namespace: NAMESPACE, name: 'load', uid, serviceAccount: 'reader' };
    const [port, door, metrics] = [await freePort(), await freePort(), await freePort()];
    Object.assign(ports, { door, metrics });
    proxy = spawn(process.execPath, ['--import', 'tsx', path.join('proxy', 'src', 'main.ts')], {
      env: {
        PATH: process.env.PATH, PODIAM_CLUSTER_NAME: 'bench', PODIAM_NODE_NAME: NODE, PODIAM_IPTABLES: 'false', PODIAM_LISTEN_ADDRESS: '127.0.0.1',
        PODIAM_PORT: String(port), PODIAM_METRICS_PORT: String(metrics), PODIAM_LOG_LEVEL: 'silent',
        PODIAM_TOKEN_IDENTITY: 'true', PODIAM_TOKEN_PORT: String(door),
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint, PODIAM_STS_ENDPOINT: peers.moto!.endpoint, PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
      },
      stdio: 'ignore',
    });
    for (let i = 0; i < 300; i++) {
      if (proxy.exitCode !== null) throw new Error(`the proxy exited ${proxy.exitCode}`);
      if ((await call(metrics, '127.0.0.1', 'GET', '/readyz').catch(() => ({ status: 0 }))).status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(async () => {
    proxy?.kill('SIGKILL');
    kube?.close();
    await peers?.stop();
  });

  it('mints distinct RS256 tokens bound to the pod, audience podiam', async () => {
    const tokens = await mintTokens(kube, pod, 5, 'podiam');

    assert.equal(new Set(tokens).size, 5);
    for (const t of tokens) {
      assert.equal(tokenHeader(t).alg, 'RS256');
      assert.deepEqual(claimsOf(t).aud, ['podiam']);
      assert.equal(claimsOf(t)['kubernetes.io'].pod.uid, pod.uid);
    }
  });

  it('produces first-request and cached figures in alternating rounds, every answer a 200 from the pod address', async () => {
    const [cached, ...fresh] = await mintTokens(kube, pod, 1 + 2 * 10, 'podiam');
    const warm = await oneAtATime(proxy.pid!, ports.door, POD_IP, [cached!]);
    assert.equal(warm.non200, 0);

    const rounds = await firstAndCached(proxy.pid!, ports.door, POD_IP, [fresh.slice(0, 10), fresh.slice(10, 20)], cached!);

    assert.equal(rounds.length, 2);
    for (const r of rounds) {
      for (const kind of ['first', 'cached'] as const) {
        assert.equal(r[kind].latenciesMs.length, 10);
        assert.equal(r[kind].non200, 0);
        assert.ok(r[kind].latenciesMs.every((ms) => ms > 0 && ms < 5000));
        assert.ok(Number.isFinite(r[kind].cpuMicrosPerAnswer) && r[kind].cpuMicrosPerAnswer > 0, `${kind} CPU per answer ${r[kind].cpuMicrosPerAnswer}`);
      }
    }
  });

  it('has the door verify a token it has not seen: the same token with another signature is refused', async () => {
    const [good] = await mintTokens(kube, pod, 1, 'podiam');
    const [h, p, sig] = good!.split('.') as [string, string, string];
    const flipped = Buffer.from(sig, 'base64url');
    flipped[0]! ^= 1;
    const forged = `${h}.${p}.${flipped.toString('base64url')}`;

    const refused = await oneAtATime(proxy.pid!, ports.door, POD_IP, [forged]);
    const accepted = await oneAtATime(proxy.pid!, ports.door, POD_IP, [good!]);

    assert.equal(refused.non200, 1);
    assert.equal(accepted.non200, 0);
  });

  it('saturates the token door with a cached token under wrk, with no errors', async () => {
    const [token] = await mintTokens(kube, pod, 1, 'podiam');
    assert.equal((await oneAtATime(proxy.pid!, ports.door, POD_IP, [token!])).non200, 0);

    const round = await saturate(proxy.pid!, `http://127.0.0.1:${ports.door}${TOKEN_DOOR_PATH}`, { authorization: token! }, 1, 4);

    assert.ok(round.answers > 0);
    assert.equal(round.non2xx + round.socketErrors, 0);
    assert.ok(round.cpuMicrosPerAnswer > 0);
  });
});
