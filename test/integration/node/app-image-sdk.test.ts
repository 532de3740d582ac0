// The app test image (test/images/app) as a pod on the real node (test/peers/node.ts): imported into
// the node's containerd from its docker-archive, run by the kubelet as its own user on the CNI bridge,
// and, through `kubectl exec`, both SDKs in it (AWS SDK for JavaScript v3, botocore) get an identity
// with their default credential chain from 169.254.169.254 — the address a pod on a real node uses. Here
// that address is a metadata service of the test's own (the mock, serving a role session moto issued)
// offered inside the node's network namespace; the chart's proxy takes its place in the chart tests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { ensureImages, type BuiltImage } from '../../peers/images.ts';
import { startImdsMock, type ImdsMock } from '../../peers/imds.ts';
import { startMoto, type MotoPeer } from '../../peers/moto.ts';
import { apiRequest, pollUntil } from '../../peers/node/api.ts';
import { nodeSkipReason, startNode, type KubeNode } from '../../peers/node.ts';
import { requireTool } from '../../peers/tools.ts';

const run = promisify(execFile);

const skip = nodeSkipReason();

const ROLE_ARN = 'arn:aws:iam::123456789012:role/app-pod-whoami';
// moto, offered inside the node namespace at an address of the test ranges.
const STS_INSIDE = '203.0.113.252:5000';

describe('the app test image as a pod on the real node', { skip }, () => {
  let node: KubeNode;
  let moto: MotoPeer;
  let imds: ImdsMock;
  let app: BuiltImage;

  before(async () => {
    const [images, m] = await Promise.all([ensureImages('app'), startMoto()]);
    app = images.app;
    moto = m;
    await moto.createRoles([ROLE_ARN]);
    const sts = new STSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'app-pod' }))).Credentials!;
    imds = await startImdsMock({
      role: { name: 'app-pod-whoami', credentials: { AccessKeyId: c.AccessKeyId!, SecretAccessKey: c.SecretAccessKey!, Token: c.SessionToken!, Expiration: c.Expiration!.toISOString() } },
    });
    node = await startNode({
      expose: [
        { listen: '169.254.169.254:80', target: imds.endpoint.replace('http://', '') },
        { listen: STS_INSIDE, target: moto.endpoint.replace('http://', '') },
      ],
    });
  });
  after(async () => {
    await node?.stop();
    await Promise.allSettled([moto?.stop(), imds?.stop()]);
  });

  it('imports into the node\'s containerd under its reference and runs as a pod, as its own non-root user', async () => {
    const imported = await node.importImage(app.archive);
    assert.ok(imported.includes(app.ref), `imported: ${imported.join(', ')}`);

    await apiRequest(node.kube, 'POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app' },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [{ name: 'app', image: app.ref, imagePullPolicy: 'Never', env: [{ name: 'AWS_ENDPOINT_URL_STS', value: `http://${STS_INSIDE}` }, { name: 'AWS_REGION', value: 'us-east-1' }] }],
      },
    });
    await pollUntil('pod app Running', 90_000, async () => {
      const r = await apiRequest(node.kube, 'GET', '/api/v1/namespaces/default/pods/app');
      return (r.json as { status?: { phase?: string } }).status?.phase === 'Running' ? true : undefined;
    });
    const { stdout } = await run(requireTool('kubectl'), ['exec', 'app', '--', 'id', '-u'], { env: { ...process.env, ...node.kube.env }, timeout: 30_000 });

    assert.equal(stdout.trim(), '1000');
  });

  for (const [sdk, command] of [
    ['the AWS SDK for JavaScript v3', ['node', '/app/sts-whoami.mjs']],
    ['botocore', ['python3', '/app/sts_whoami.py']],
  ] as const) {
    it(`gives ${sdk} in the pod the role session served at 169.254.169.254`, async () => {
      const { stdout } = await run(requireTool('kubectl'), ['exec', 'app', '--', ...command], { env: { ...process.env, ...node.kube.env }, timeout: 60_000 });

      assert.equal(stdout.trim(), 'arn:aws:sts::123456789012:assumed-role/app-pod-whoami/app-pod');
    });
  }
});
