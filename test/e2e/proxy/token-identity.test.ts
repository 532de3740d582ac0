// Token-bound pod identity end to end (issue 15): the proxy's token door at 169.254.170.23, reached
// through its own real DNAT rule from pods in their own network namespaces, with a real API server
// issuing the tokens (the TokenRequest API, bound to the pod) and publishing the keys the proxy
// verifies them with, moto as STS. The AWS SDK for JavaScript v3, botocore, the AWS SDK for Go v2 and
// the AWS SDK for Java v2, each with its default credential chain unmodified, get their own pod's role from
// AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; then the attacks, each
// refused with its own code and never answered by the source-IP path instead.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject, createPrivateKey } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { startPeers, toolEnv, tools, type Peers } from '../../peers/index.ts';
import { netnsAvailable } from '../../peers/netns.ts';
import { TOKEN_DOOR_URL } from '../../../core/src/annotations.ts';
import { managedRoleArn } from '../../../core/src/naming.ts';
import { NodeLab, repo } from './node-lab.ts';

const NODE_IP = '192.0.2.1';
const NODE_NAME = 'node-token';
const TOKEN_PORT = 8182;
const METRICS_PORT = 9181;
const ACCOUNT = '123456789012';
const ROLES = [['orders', 'reader'], ['billing', 'writer']] as const;

interface PodSpec {
  name: string;
  namespace: string;
  service: string;
  ip: string;
}
const ALPHA: PodSpec = { name: 'alpha', namespace: 'orders', service: 'reader', ip: '192.0.2.10' };
const BETA: PodSpec = { name: 'beta', namespace: 'billing', service: 'writer', ip: '192.0.2.11' };
const GAMMA: PodSpec = { name: 'gamma', namespace: 'orders', service: 'reader', ip: '192.0.2.12' };
/** Bound to another node: its token is valid, but no pod of this node. */
const ELSEWHERE: PodSpec = { name: 'elsewhere', namespace: 'orders', service: 'reader', ip: '203.0.113.50' };

/** The session the proxy names after the pod (namespace.name), in the pod's managed role. */
const assumedRoleArn = (p: PodSpec): string => `arn:aws:sts::${ACCOUNT}:assumed-role/test.${p.namespace}.${p.service}/${p.namespace}.${p.name}`;

type Answer = { status: number; body: string } | { error: string };

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 100 && Date.now() < end; i++) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

const b64url = (v: object | Buffer): string => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

/** A JWT with the given header and claims, signed ES256 (P-256, IEEE P1363 signature as JWS wants) or RS256. */
function signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject): string {
  const alg = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  const input = `${b64url({ ...header, alg })}.${b64url(claims)}`;
  const sig = sign('sha256', Buffer.from(input), key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${input}.${b64url(sig)}`;
}

function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>, claims: JSON.parse(Buffer.from(c!, 'base64url').toString()) as Record<string, unknown> };
}

describe('token-bound identity: the AWS SDKs\' container provider at 169.254.170.23 through the real DNAT rule', { skip: !netnsAvailable() && 'PODIAM_SKIP: needs root (network namespaces and iptables)' }, () => {
  const node = new NodeLab('ptk', NODE_IP);
  const tokenDir = mkdtempSync(path.join(tmpdir(), 'podiam-tokens-'));
  let peers: Peers;
  let api: CoreV1Api;
  let proxy: ChildProcess | undefined;
  let motoPort: number;
  const netns = new Map<string, string>();
  const uids = new Map<string, string>();
  /** The proxy's last log lines, for failure messages. */
  let proxyLog = '';

  after(async () => {
    await node.stopProxy(proxy);
    await node.cleanup();
    await peers?.stop();
    rmSync(tokenDir, { recursive: true, force: true });
  });

  async function createPod(p: PodSpec, nodeName = NODE_NAME): Promise<string> {
    const pod = await api.createNamespacedPod({
      namespace: p.namespace,
      body: {
        metadata: { name: p.name, namespace: p.namespace, annotations: { 'iam.amazonaws.com/role': p.service } },
        // TokenRequest binds a token to a pod only when the pod runs as that service account.
        spec: { nodeName, serviceAccountName: 'app', containers: [{ name: 'c', image: 'example.invalid/none:1' }] },
      },
    });
    await api.patchNamespacedPodStatus({ name: p.name, namespace: p.namespace, body: [{ op: 'add', path: '/status', value: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] } }] });
    uids.set(p.name, pod.metadata!.uid!);
    return pod.metadata!.uid!;
  }

  /** A token from the API server's TokenRequest API, as the kubelet asks for the projected volume. */
  async function requestToken(p: PodSpec, opts: { audience?: string; boundTo?: { name: string; uid: string } | null } = {}): Promise<string> {
    const bound = opts.boundTo === undefined ? { name: p.name, uid: uids.get(p.name)! } : opts.boundTo;
    const answer = await api.createNamespacedServiceAccountToken({
      name: 'app',
      namespace: p.namespace,
      body: {
        spec: {
          audiences: [opts.audience ?? 'podiam'],
          expirationSeconds: 600,
          ...(bound ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: bound.name, uid: bound.uid } } : {}),
        },
      },
    });
    return answer.status!.token;
  }

  /** Writes a token file as the kubelet does: the token alone, no trailing newline (botocore refuses one). */
  function tokenFile(name: string, token: string): string {
    const file = path.join(tokenDir, name);
    writeFileSync(file, token, { mode: 0o600 });
    return file;
  }

  /** The pods' SDK environment: the container provider at the token door, STS at moto, no IMDS, no profile. */
  function sdkEnv(file: string): NodeJS.ProcessEnv {
    const env = toolEnv({
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_STS: `http://${NODE_IP}:${motoPort}`,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: TOKEN_DOOR_URL,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file,
      // The metadata path could answer these pods too (they are annotated): switched off in every
      // SDK, so a credential can only have come through the token door.
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    for (const k of ['AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'AWS_ENDPOINT_URL']) delete env[k];
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) delete env[k];
    return env;
  }

  // Each SDK accepts 169.254.170.23 over plain http for the container provider (read in the installed copies):
  // - JS v3: @aws-sdk/credential-provider-http 3.972.88, dist-cjs/index.js checkUrl (https, loopback,
  //   169.254.170.2, 169.254.170.23, [fd00:ec2::23]); credential-provider-node's remoteProvider takes
  //   fromHttp (then fromContainerMetadata) when AWS_CONTAINER_CREDENTIALS_FULL_URI is set, never IMDS.
  // - botocore 1.43.127: botocore/utils.py ContainerMetadataFetcher._ALLOWED_HOSTS (169.254.170.2,
  //   169.254.170.23, fd00:ec2::23, localhost) plus loopback; credentials.py ContainerProvider sends
  //   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE's content and refuses one with a CR or LF.
  // - Go v2: config v1.33.18, resolve_credentials.go isIPAllowed (see scripts/peers/sdk-clients/go-sts-whoami/main.go).
  // - Java v2: auth 2.57.8, ContainerCredentialsProvider.ContainerCredentialsEndpointProvider.isAllowedHost
  //   (loopback, or VALID_LOOP_BACK_IPV4 169.254.170.2 / 169.254.170.23, VALID_LOOP_BACK_IPV6 [fd00:ec2::23];
  //   see scripts/peers/sdk-clients/java-sts-whoami/src/main/java/whoami/StsWhoami.java).
  const SDKS = {
    'the AWS SDK for JavaScript v3': (): [string, string[]] => [process.execPath, [path.join(repo, 'test/images/app/sts-whoami.mjs')]],
    botocore: (): [string, string[]] => [tools.python, [path.join(repo, 'test/images/app/sts_whoami.py')]],
    'the AWS SDK for Go v2': (): [string, string[]] => [tools.goStsWhoami, []],
    // The JVM reads AWS_EC2_METADATA_DISABLED too; the system property is its other switch for the same
    // setting (SdkSystemSetting.AWS_EC2_METADATA_DISABLED). C1 only and the serial GC: a short-lived
    // client starts in about a second.
    'the AWS SDK for Java v2': (): [string, string[]] => ['java', ['-Daws.disableEc2Metadata=true', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-jar', tools.javaStsWhoamiJar]],
  } as const;

  /** One SDK client's default chain in a pod namespace: the ARN STS names, or the client's own failure line. */
  async function sdkWhoami(sdk: keyof typeof SDKS, ns: string, file: string): Promise<{ arn?: string; failure?: string }> {
    const [cmd, args] = SDKS[sdk]();
    try {
      const { stdout } = await node.lab.exec(ns, cmd, args, { cwd: repo, env: sdkEnv(file), timeoutMs: 60_000 });
      const line = stdout.trim().split('\n').at(-1)!;
      // The Go and Java clients print {Arn, Account, UserId}; the JS and botocore clients print the ARN.
      return { arn: line.startsWith('{') ? (JSON.parse(line) as { Arn: string }).Arn : line };
    } catch (err) {
      return { failure: String((err as { stderr?: string }).stderr ?? err).trim().split('\n').at(-1) };
    }
  }

  /** Raw HTTP from a namespace (a pod's, or the node's for a hostNetwork process). */
  async function rawGet(ns: string, url: string, file?: string): Promise<Answer> {
    const { stdout } = await node.lab.exec(ns, process.execPath, ['--import', 'tsx', 'test/e2e/proxy/token-client.ts', 'get', url, ...(file ? [file] : [])], { cwd: repo, env: toolEnv({}), timeoutMs: 20_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Answer;
  }

  /** The refusal's code; fails the test if the answer carries credentials or is not the expected status. */
  function refusal(answer: Answer, status: number): string {
    assert.ok('status' in answer, `no HTTP answer: ${JSON.stringify(answer)}`);
    // No answer of the door's may carry credentials where a refusal is due: not the token's pod's, not
    // the sender's through the source-IP path.
    assert.doesNotMatch(answer.body, /AccessKeyId|SecretAccessKey/, `answered ${answer.status} with credentials where a refusal was due`);
    assert.equal(answer.status, status, `${answer.body}\nproxy log tail:\n${proxyLog.slice(-3000)}`);
    return (JSON.parse(answer.body) as { code: string }).code;
  }

  async function metric(pattern: RegExp): Promise<number> {
    const answer = await rawGet(node.nodeNs, `http://${NODE_IP}:${METRICS_PORT}/metrics`);
    assert.ok('status' in answer && answer.status === 200, JSON.stringify(answer).slice(0, 500));
    return answer.body
      .split('\n')
      .filter((l) => pattern.test(l))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  }

  before(async () => {
    peers = await startPeers({ moto: true, imds: { role: { name: 'node-role' } }, kube: true });
    await peers.moto!.createRoles(ROLES.map(([namespace, service]) => managedRoleArn({ accountId: ACCOUNT }, { cluster: 'test', namespace, service })));
    api = peers.kube!.kubeConfig().makeApiClient(CoreV1Api);
    motoPort = Number(new URL(peers.moto!.endpoint).port);
    await node.start([peers.kube!.port, motoPort, Number(new URL(peers.imds!.endpoint).port)]);
    for (const [p, tag] of [[ALPHA, 'ka'], [BETA, 'kb'], [GAMMA, 'kc']] as const) netns.set(p.name, await node.pod(tag, `${p.ip}/24`));

    for (const namespace of ['orders', 'billing']) {
      await api.createNamespace({ body: { metadata: { name: namespace } } });
      // No controller-manager runs: the ServiceAccount the tokens are requested for is made here.
      await api.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app', namespace } } });
    }
    for (const p of [ALPHA, BETA, GAMMA]) await createPod(p);
    await createPod(ELSEWHERE, 'node-other');

    proxy = await node.proxy({
      PODIAM_CLUSTER_NAME: 'test',
      NODE_NAME,
      PODIAM_AWS_REGION: 'us-east-1',
      PODIAM_ACCOUNT_ID: ACCOUNT,
      PODIAM_IMDS_UPSTREAM: peers.imds!.endpoint,
      PODIAM_STS_ENDPOINT: peers.moto!.endpoint,
      PODIAM_KUBECONFIG: peers.kube!.kubeconfigPath,
      PODIAM_TOKEN_IDENTITY: 'true',
      PODIAM_TOKEN_PORT: String(TOKEN_PORT),
      PODIAM_METRICS_PORT: String(METRICS_PORT),
    });
    proxy.stdout?.on('data', (d: Buffer) => (proxyLog = (proxyLog + d.toString()).slice(-20_000)));
    if (process.env.PODIAM_TEST_PROXY_LOG) proxy.stdout?.pipe(createWriteStream(process.env.PODIAM_TEST_PROXY_LOG));
  });

  for (const sdk of Object.keys(SDKS) as (keyof typeof SDKS)[]) {
    it(`gives ${sdk}'s default chain in each of two pods that pod's own role through the token door`, async () => {
      for (const p of [ALPHA, BETA]) {
        const file = tokenFile(`${p.name}-own`, await requestToken(p));
        const out = await eventually(`${sdk} in ${p.name}`, async () => {
          const r = await sdkWhoami(sdk, netns.get(p.name)!, file);
          if (r.failure) throw new Error(r.failure);
          return r;
        });
        assert.equal(out.arn, assumedRoleArn(p), `${sdk} in ${p.name}`);
      }
    });
  }

  it('answered those through the token door alone: the metadata path served no credentials', async () => {
    assert.ok((await metric(/^podiam_proxy_request_duration_seconds_count\{.*route="token-credentials".*status="200"/)) >= 8, 'eight SDK runs answered by the token door');
    assert.equal(await metric(/^podiam_proxy_request_duration_seconds_count\{.*route="credentials".*status="200"/), 0, 'no credentials through 169.254.169.254');
  });

  it("gives no identity to an SDK in pod beta holding pod alpha's token (the SDK's chain stops at the door's refusal)", async () => {
    const stolen = tokenFile('alpha-stolen', await requestToken(ALPHA));
    for (const sdk of Object.keys(SDKS) as (keyof typeof SDKS)[]) {
      const r = await sdkWhoami(sdk, netns.get(BETA.name)!, stolen);
      assert.equal(r.arn, undefined, `${sdk} in beta got ${r.arn}`);
    }
  });

  it("refuses pod alpha's token sent from pod beta: PODIAM_TOKEN_SOURCE_MISMATCH", async () => {
    const file = tokenFile('alpha-for-beta', await requestToken(ALPHA));
    // The same token from its own pod works: the refusal below is about the sender alone.
    const own = await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, file);
    assert.ok('status' in own && own.status === 200, JSON.stringify(own));
    assert.equal(refusal(await rawGet(netns.get(BETA.name)!, TOKEN_DOOR_URL, file), 403), 'PODIAM_TOKEN_SOURCE_MISMATCH');
  });

  it('refuses a token for another audience: PODIAM_TOKEN_AUDIENCE_MISMATCH', async () => {
    const file = tokenFile('alpha-other-audience', await requestToken(ALPHA, { audience: 'other' }));
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, file), 401), 'PODIAM_TOKEN_AUDIENCE_MISMATCH');
  });

  it('refuses a token bound to no pod: PODIAM_TOKEN_NOT_POD_BOUND', async () => {
    const file = tokenFile('alpha-unbound', await requestToken(ALPHA, { boundTo: null }));
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, file), 403), 'PODIAM_TOKEN_NOT_POD_BOUND');
  });

  it('refuses an expired token: PODIAM_TOKEN_EXPIRED', async () => {
    // The TokenRequest API refuses expirationSeconds below 600, so the API server cannot be made to
    // issue a token that expires within a test. This one is the API server's own token for alpha with
    // iat/nbf/exp moved two hours back and signed again with the API server's own signing key file
    // (the kube peer's pkiDir/sa.key, what --service-account-signing-key-file names) under the same
    // kid: everything verifies except the expiry.
    const real = decodeJwt(await requestToken(ALPHA));
    const now = Math.floor(Date.now() / 1000);
    const saKey = createPrivateKey(readFileSync(path.join(peers.kube!.pkiDir, 'sa.key')));
    const expired = signJwt({ kid: real.header.kid }, { ...real.claims, iat: now - 7800, nbf: now - 7800, exp: now - 7200 }, saKey);
    // A control: the same re-signing with exp in the future is accepted, so only the expiry differs.
    const fresh = signJwt({ kid: real.header.kid }, { ...real.claims, iat: now - 10, nbf: now - 10, exp: now + 600 }, saKey);
    const control = await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, tokenFile('alpha-resigned', fresh));
    assert.ok('status' in control && control.status === 200, `the re-signed live token verifies: ${JSON.stringify(control)}`);
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, tokenFile('alpha-expired', expired)), 401), 'PODIAM_TOKEN_EXPIRED');
  });

  it("refuses a token of another issuer, even signed with the cluster's own key: PODIAM_TOKEN_INVALID", async () => {
    const real = decodeJwt(await requestToken(ALPHA));
    const saKey = createPrivateKey(readFileSync(path.join(peers.kube!.pkiDir, 'sa.key')));
    const foreign = signJwt({ kid: real.header.kid }, { ...real.claims, iss: 'https://issuer.example.invalid' }, saKey);
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, tokenFile('alpha-foreign-issuer', foreign)), 401), 'PODIAM_TOKEN_INVALID');
  });

  it('refuses a token with the same claims signed by another key: PODIAM_TOKEN_INVALID', async () => {
    const real = decodeJwt(await requestToken(ALPHA));
    const keys = [generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey];
    for (const key of keys) {
      for (const kid of [real.header.kid, 'attacker-key']) {
        const forged = signJwt({ kid }, real.claims, key);
        assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, tokenFile('alpha-forged', forged)), 401), 'PODIAM_TOKEN_INVALID', `${key.asymmetricKeyType} key, kid ${String(kid)}`);
      }
    }
    // Unsigned ("alg": "none") and a token with its signature cut off.
    const none = `${b64url({ alg: 'none', kid: real.header.kid })}.${b64url(real.claims)}.`;
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL, tokenFile('alpha-none', none)), 401), 'PODIAM_TOKEN_INVALID');
  });

  it('refuses a request without a token, from an annotated pod the metadata path would serve: PODIAM_TOKEN_MISSING', async () => {
    assert.equal(refusal(await rawGet(netns.get(ALPHA.name)!, TOKEN_DOOR_URL), 401), 'PODIAM_TOKEN_MISSING');
  });

  it("refuses a deleted pod's token once a new pod (same name, new UID) holds its IP: PODIAM_TOKEN_POD_NOT_ON_NODE", async () => {
    const ns = netns.get(GAMMA.name)!;
    const old = tokenFile('gamma-old', await requestToken(GAMMA));
    const before = await eventually('gamma served', async () => {
      const a = await rawGet(ns, TOKEN_DOOR_URL, old);
      return 'status' in a && a.status === 200 && a;
    });
    assert.equal(before.status, 200);
    await api.deleteNamespacedPod({ name: GAMMA.name, namespace: GAMMA.namespace, gracePeriodSeconds: 0 });
    await createPod(GAMMA);
    const current = tokenFile('gamma-new', await requestToken(GAMMA));
    // Once the proxy's index has the new pod, its own token works from the address...
    await eventually('the new gamma served', async () => {
      const a = await rawGet(ns, TOKEN_DOOR_URL, current);
      return 'status' in a && a.status === 200 && a;
    });
    // ...and the old pod's token, still unexpired and correctly signed, from the same address does not.
    assert.equal(refusal(await rawGet(ns, TOKEN_DOOR_URL, old), 403), 'PODIAM_TOKEN_POD_NOT_ON_NODE');
  });

  it("refuses a hostNetwork process holding a valid token of a pod on another node: PODIAM_TOKEN_POD_NOT_ON_NODE", async () => {
    const file = tokenFile('elsewhere', await requestToken(ELSEWHERE));
    // A hostNetwork process is in the node's namespace: it reaches the token port at the node's address directly.
    const door = `http://${NODE_IP}:${TOKEN_PORT}/v1/credentials`;
    assert.equal(refusal(await rawGet(node.nodeNs, door, file), 403), 'PODIAM_TOKEN_POD_NOT_ON_NODE');
    // With a token of a pod that is on this node, from the node's address: not that pod's address.
    assert.equal(refusal(await rawGet(node.nodeNs, door, tokenFile('alpha-from-node', await requestToken(ALPHA))), 403), 'PODIAM_TOKEN_SOURCE_MISMATCH');
  });
});
