// Held-out attack (issue 11): an attacking pod sends tens of thousands of malformed and odd
// requests over raw sockets, hoping one of them yields another pod's credentials or the node's.
// 10,000 requests from a seeded corpus (test/integration/proxy/fuzz-corpus.ts) go to the real
// listener (startProxy, IMDSv2 required as shipped, real STS = moto, real node IMDS = the metadata
// mock) from four source addresses: three pods with roles and one address that is no pod.
// Every answer is searched for AccessKeyIds: an address may only ever see its own pod's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPeers, type Peers } from '../../peers/index.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, podObject, TEST_ROLE_ARNS, testConfig } from './helpers.ts';
import { fuzzRequest, prng, rawExchange, type FuzzTarget } from './fuzz-corpus.ts';

const SEED = Number(process.env.PODIAM_FUZZ_SEED ?? 20261130);
const REQUESTS = 10_000;
const CONCURRENCY = 16;
const NODE_ROLE = 'node-role';
const NODE_KEY = 'ASIANODEROLEFUZZ0001';
const CREDS = '/latest/meta-data/iam/security-credentials/';

interface Attacker {
  ip: string;
  role: string | undefined;
}

const ATTACKERS: readonly Attacker[] = [
  { ip: '127.0.0.81', role: 'test.orders.reader' },
  { ip: '127.0.0.82', role: 'test.orders.writer' },
  { ip: '127.0.0.83', role: 'test.billing.writer' },
  { ip: '127.0.0.84', role: undefined },
];


function accessKeyIds(text: string): string[] {
  return [...text.matchAll(/"AccessKeyId"\s*:\s*"([^"]*)"/g)].map((m) => m[1]!);
}

describe('malformed and odd requests from pods, fuzzed', () => {
  let peers: Peers;
  let proxy: RunningProxy;
  const keyOf = new Map<string, string>();
  const tokenOf = new Map<string, string>();

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: NODE_ROLE, credentials: { AccessKeyId: NODE_KEY } } } });
    await peers.moto!.createRoles(TEST_ROLE_ARNS);
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll(
      ATTACKERS.filter((a) => a.role).map((a) => {
        const [, namespace, service] = a.role!.split('.');
        return podObject(`pod-${service}-${a.ip.split('.')[3]}`, namespace!, a.ip, { 'iam.amazonaws.com/role': service! });
      }),
    );
    proxy = await startProxy(
      testConfig({
        PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
        PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_REQUIRE_IMDSV2: 'true',
      }),
      { indexes: { pods, namespaces } },
    );
    await proxy.ready;
    for (const a of ATTACKERS) {
      const token = await call(proxy.port, '/latest/api/token', { method: 'PUT', from: a.ip, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' } });
      assert.equal(token.status, 200);
      tokenOf.set(a.ip, token.body);
      if (!a.role) continue;
      const creds = await call(proxy.port, `${CREDS}${a.role}`, { from: a.ip, headers: { 'x-aws-ec2-metadata-token': token.body } });
      assert.equal(creds.status, 200, creds.body);
      keyOf.set(a.ip, (JSON.parse(creds.body) as { AccessKeyId: string }).AccessKeyId);
    }
    assert.equal(new Set(keyOf.values()).size, 3, 'each pod has credentials of its own');
  });

  after(async () => {
    await proxy?.stop();
    await peers?.stop();
  });

  it(`never answers a pod with another pod's or the node's credentials, over ${REQUESTS} requests`, async () => {
    const rand = prng(SEED);
    const targets = ATTACKERS.map((a, i): FuzzTarget => {
      const other = ATTACKERS[(i + 1) % ATTACKERS.length]!;
      return {
        ownRole: a.role,
        otherRoles: ATTACKERS.filter((x) => x !== a && x.role).map((x) => x.role!),
        nodeRole: NODE_ROLE,
        ownToken: tokenOf.get(a.ip)!,
        otherToken: tokenOf.get(other.ip)!,
        otherIp: other.ip,
      };
    });
    // The corpus first (deterministic from the seed), then sent with bounded concurrency.
    const corpus = Array.from({ length: REQUESTS }, (_, n) => {
      const who = Math.floor(rand() * ATTACKERS.length);
      return { n, who, bytes: fuzzRequest(targets[who]!, rand) };
    });
    const leaks: string[] = [];
    const statuses = new Map<string, number>();
    let next = 0;
    let ownCredentials = 0;
    const worker = async (): Promise<void> => {
      while (next < corpus.length) {
        const { n, who, bytes } = corpus[next++]!;
        const a = ATTACKERS[who]!;
        const answer = await rawExchange({ host: '127.0.0.1', port: proxy.port, localAddress: a.ip }, bytes);
        for (const m of answer.matchAll(/HTTP\/1\.[01] (\d{3})/g)) statuses.set(m[1]!, (statuses.get(m[1]!) ?? 0) + 1);
        if (!/HTTP\/1\.[01] \d{3}/.test(answer)) statuses.set('no answer', (statuses.get('no answer') ?? 0) + 1);
        for (const key of accessKeyIds(answer)) {
          if (key === keyOf.get(a.ip)) ownCredentials++;
          else leaks.push(`seed ${SEED} request #${n} from ${a.ip} got AccessKeyId ${key}: ${JSON.stringify(bytes.toString('latin1').slice(0, 300))}`);
        }
        if (answer.includes(NODE_KEY)) leaks.push(`seed ${SEED} request #${n} from ${a.ip} got the node's key`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(JSON.stringify({ seed: SEED, requests: corpus.length, ownCredentials, statuses: Object.fromEntries([...statuses].sort()) }));
    assert.deepEqual(leaks.slice(0, 20), [], `${leaks.length} answers carried credentials that were not the caller's`);
    assert.ok(ownCredentials > 0, 'the corpus reached the credentials handler with valid requests too (it can find a leak)');

    const after = await call(proxy.port, `${CREDS}test.orders.reader`, { from: '127.0.0.81', headers: { 'x-aws-ec2-metadata-token': tokenOf.get('127.0.0.81')! } });
    assert.equal(after.status, 200, 'a legitimate request is still answered after the fuzzing');
    assert.equal((JSON.parse(after.body) as { AccessKeyId: string }).AccessKeyId, keyOf.get('127.0.0.81'));
  });
});
