// The "application pod" test image (test/images/app, built by scripts/images/build.sh): inside its own
// root (chroot, as user 1000, with an environment as empty as a pod's), the AWS SDK for JavaScript v3
// and botocore each find credentials through their default chain at an instance metadata service and
// print the identity STS returns for them. Here the metadata service is the mock serving a role session
// that moto issued, on loopback; on the real node it is podiam's proxy behind 169.254.169.254.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { ensureImages, unpackImage, type UnpackedImage } from '../../peers/images.ts';
import { freePort, startImdsMock, startMoto, type ImdsMock, type MotoPeer } from '../../peers/index.ts';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/app-image-whoami';

interface Run { code: number | null; stdout: string; stderr: string }

function inImage(image: UnpackedImage, command: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile('/usr/sbin/chroot', ['--userspec=1000:1000', image.rootfs, ...command], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

describe('the app test image', () => {
  let image: UnpackedImage;
  let moto: MotoPeer;
  let imds: ImdsMock;
  const clients = [
    { sdk: 'AWS SDK for JavaScript v3', command: ['/usr/local/bin/node', '/app/sts-whoami.mjs'] },
    { sdk: 'botocore', command: ['/usr/bin/python3', '/app/sts_whoami.py'] },
  ];

  before(async () => {
    const [{ app }, m] = await Promise.all([ensureImages('app'), startMoto()]);
    moto = m;
    image = await unpackImage(app.archive);
    await moto.createRoles([ROLE_ARN]);
    const sts = new STSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    const session = await sts.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'app-image' }));
    const c = session.Credentials!;
    imds = await startImdsMock({
      role: { name: 'app-image-whoami', credentials: { AccessKeyId: c.AccessKeyId!, SecretAccessKey: c.SecretAccessKey!, Token: c.SessionToken!, Expiration: c.Expiration!.toISOString() } },
    });
  });
  after(async () => {
    image?.remove();
    await Promise.allSettled([moto?.stop(), imds?.stop()]);
  });

  const podEnv = (metadata: string) => ({
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/home/node',
    PYTHONPATH: '/opt/botocore',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_STS: moto.endpoint,
    AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata,
  });

  for (const { sdk, command } of clients) {
    it(`prints the assumed-role ARN that ${sdk} gets through the metadata service`, async () => {
      const r = await inImage(image, command, podEnv(imds.endpoint));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'arn:aws:sts::123456789012:assumed-role/app-image-whoami/app-image');
    });

    it(`says there is no identity when ${sdk} finds no metadata service`, async () => {
      const r = await inImage(image, command, podEnv(`http://127.0.0.1:${await freePort()}`));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^no identity: /);
    });
  }
});
