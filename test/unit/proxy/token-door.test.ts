// The token door of the real proxy (startProxy) over loopback: tokens signed here with real keys
// (node:crypto), the pod index fed by the test, and the credential source an in-memory stand-in
// for STS that records each AssumeRole (the real STS path is test/e2e/proxy/token-identity.test.ts,
// the real API server's tokens and keys are test/integration/proxy/token-key-rotation.test.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { parseConfig } from '../../../proxy/src/config.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { createLogger } from '../../../proxy/src/log.ts';
import type { AssumeRequest } from '../../../proxy/src/sts/types.ts';

const ISSUER = 'https://kubernetes.default.svc';
const POD_A = { uid: 'uid-a', name: 'api-a', ip: '127.0.0.1' };
const POD_B = { uid: 'uid-b', name: 'api-b', ip: '127.0.0.2' };

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JsonWebKey;
  alg: 'RS256' | 'ES256';
}

function rsaKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }, alg: 'RS256' };
}

function ecKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' }, alg: 'ES256' };
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function mint(key: SigningKey, over: Record<string, unknown> = {}, pod: { uid: string; name: string } | null = POD_A, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: ISSUER,
    aud: ['podiam'],
    exp: now + 600,
    iat: now,
    nbf: now,
    sub: 'system:serviceaccount:orders:api',
    'kubernetes.io': { namespace: 'orders', serviceaccount: { name: 'api', uid: 'sa-uid' }, ...(pod ? { pod } : {}) },
    ...over,
  };
  const input = `${b64({ alg: key.alg, kid: key.kid, ...header })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function getCredentials(port: number, token: string | undefined, from = POD_A.ip, path = '/v1/credentials'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from, agent: false, timeout: 3000, headers: token === undefined ? {} : { authorization: token } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function podObject(p: { uid: string; name: string; ip: string }) {
  return {
    metadata: { uid: p.uid, name: p.name, namespace: 'orders', annotations: { 'iam.amazonaws.com/role': 'api' } },
    spec: { serviceAccountName: 'api', nodeName: 'n' },
    status: { phase: 'Running', podIP: p.ip },
  };
}

describe('the token door (GET /v1/credentials on the token port)', () => {
  const rsa = rsaKey('key-1');
  const ec = ecKey('key-ec');
  const published: SigningKey[] = [rsa, ec];
  let keyReads = 0;
  const assumed: AssumeRequest[] = [];
  const pods = new PodIndex();
  const namespaces = new NamespaceIndex();
  let proxy: RunningProxy;
  let port: number;

  before(async () => {
    namespaces.replaceAll([{ metadata: { name: 'orders' } }]);
    pods.replaceAll([podObject(POD_A), podObject(POD_B)]);
    proxy = await startProxy(
      parseConfig({
        PODIAM_CLUSTER_NAME: 'c', NODE_NAME: 'n', HOST_IP: '192.0.2.1', PODIAM_PORT: '0', PODIAM_METRICS_PORT: '-1', PODIAM_LISTEN_ADDRESS: '127.0.0.1',
        PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9', PODIAM_LOG_LEVEL: 'silent',
        PODIAM_IPTABLES: 'false', PODIAM_PREFETCH: 'false', PODIAM_TOKEN_IDENTITY: 'true', PODIAM_TOKEN_PORT: '0',
      }),
      {
        indexes: { pods, namespaces },
        credentialSource: {
          assume: (r) => {
            assumed.push(r);
            const now = Date.now();
            return Promise.resolve({ accessKeyId: `ASIA${assumed.length}`, secretAccessKey: 'secret', sessionToken: `session-${r.sessionName}`, expiration: new Date(now + 3600_000), issuedAt: new Date(now) });
          },
        },
        issuerSource: () => {
          keyReads++;
          return Promise.resolve({ issuer: ISSUER, keys: published.map((k) => k.jwk) });
        },
        logger: createLogger('silent'),
        defaultMetrics: false,
      },
    );
    await proxy.ready;
    port = proxy.tokenPort!;
  });
  after(() => proxy?.stop());

  it("answers a pod's own bound token from its own address with its role's credentials in the container-provider shape", async () => {
    const a = await getCredentials(port, mint(rsa));
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(Object.keys(a.body).sort(), ['AccessKeyId', 'AccountId', 'Expiration', 'SecretAccessKey', 'Token']);
    assert.equal(a.body.AccountId, '123456789012');
    assert.match(String(a.body.Expiration), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const last = assumed.at(-1)!;
    assert.match(last.roleArn, /^arn:aws:iam::123456789012:role\/podiam\/c\//);
    assert.ok(last.tags.some((t) => t.Key === 'kubernetes-pod-uid' && t.Value === POD_A.uid));
  });

  it('accepts an ES256 token, and a trailing newline as the token file has it', async () => {
    assert.equal((await getCredentials(port, mint(ec))).status, 200);
    assert.equal((await getCredentials(port, `${mint(rsa)}\n`.trimEnd() + ' ')).status, 200);
  });

  it('shares one credential cache with the metadata path: the same pod asking again costs no AssumeRole', async () => {
    const before = assumed.length;
    for (let i = 0; i < 5; i++) assert.equal((await getCredentials(port, mint(rsa))).status, 200);
    assert.equal(assumed.length, before);
  });

  it('refuses a request without a token with 401 PODIAM_TOKEN_MISSING', async () => {
    const a = await getCredentials(port, undefined);
    assert.equal(a.status, 401);
    assert.equal(a.body.code, 'PODIAM_TOKEN_MISSING');
  });

  it("refuses pod A's token sent from pod B's address with 403 PODIAM_TOKEN_SOURCE_MISMATCH", async () => {
    const a = await getCredentials(port, mint(rsa), POD_B.ip);
    assert.equal(a.status, 403);
    assert.equal(a.body.code, 'PODIAM_TOKEN_SOURCE_MISMATCH');
  });

  it('refuses a token of a pod that is not on this node, even from an address of this node', async () => {
    const a = await getCredentials(port, mint(rsa, {}, { uid: 'uid-elsewhere', name: 'api-a' }));
    assert.equal(a.status, 403);
    assert.equal(a.body.code, 'PODIAM_TOKEN_POD_NOT_ON_NODE');
  });

  it('refuses a token signed by a key the issuer does not publish with 401 PODIAM_TOKEN_INVALID, reading the keys again at most once per interval', async () => {
    const stranger = rsaKey('key-1');
    const readsBefore = keyReads;
    for (let i = 0; i < 5; i++) {
      const a = await getCredentials(port, mint(stranger));
      assert.equal(a.status, 401);
      assert.equal(a.body.code, 'PODIAM_TOKEN_INVALID');
    }
    const unknownKid = rsaKey('key-unknown');
    for (let i = 0; i < 5; i++) assert.equal((await getCredentials(port, mint(unknownKid))).body.code, 'PODIAM_TOKEN_INVALID');
    assert.ok(keyReads - readsBefore <= 1, `the keys were read ${keyReads - readsBefore} times for 10 bad tokens`);
  });

  it('refuses alg none, HS256 and a token whose header claims RS256 but is signed with EC', async () => {
    const none = `${b64({ alg: 'none', kid: 'key-1' })}.${mint(rsa).split('.')[1]}.`;
    assert.equal((await getCredentials(port, none)).body.code, 'PODIAM_TOKEN_INVALID');
    const hs = mint(rsa, {}, POD_A, { alg: 'HS256' });
    assert.equal((await getCredentials(port, hs)).body.code, 'PODIAM_TOKEN_INVALID');
    const mixed = mint({ ...ec, alg: 'RS256', kid: 'key-ec' });
    assert.equal((await getCredentials(port, mixed)).body.code, 'PODIAM_TOKEN_INVALID');
  });

  it('refuses an expired token, another audience, another issuer and a token not bound to a pod, each with its own code', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    assert.deepEqual(await codeOf(mint(rsa, { exp: past })), [401, 'PODIAM_TOKEN_EXPIRED']);
    assert.deepEqual(await codeOf(mint(rsa, { aud: ['sts.amazonaws.com'] })), [401, 'PODIAM_TOKEN_AUDIENCE_MISMATCH']);
    assert.deepEqual(await codeOf(mint(rsa, { iss: 'https://other.example' })), [401, 'PODIAM_TOKEN_INVALID']);
    assert.deepEqual(await codeOf(mint(rsa, {}, null)), [403, 'PODIAM_TOKEN_NOT_POD_BOUND']);
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const [h, , s] = mint(rsa).split('.');
    const forged = `${h}.${b64({ iss: ISSUER, aud: ['podiam'], exp: Math.floor(Date.now() / 1000) + 600, 'kubernetes.io': { namespace: 'orders', serviceaccount: { name: 'api' }, pod: POD_B } })}.${s}`;
    assert.deepEqual(await codeOf(forged, POD_B.ip), [401, 'PODIAM_TOKEN_INVALID']);
  });

  it('refuses a cached token once its pod is deleted, and serves no metadata path on the token port', async () => {
    const token = mint(rsa);
    assert.equal((await getCredentials(port, token)).status, 200);
    pods.apply('DELETED', podObject(POD_A));
    try {
      assert.deepEqual(await codeOf(token), [403, 'PODIAM_TOKEN_POD_NOT_ON_NODE']);
    } finally {
      pods.apply('ADDED', podObject(POD_A));
    }
    const meta = await getCredentials(port, token, POD_A.ip, '/latest/meta-data/iam/security-credentials/');
    assert.equal(meta.status, 403);
  });

  async function codeOf(token: string, from = POD_A.ip): Promise<[number, unknown]> {
    const a = await getCredentials(port, token, from);
    return [a.status, a.body.code];
  }
});
