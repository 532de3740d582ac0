// moto answers as a real STS/IAM peer through the AWS SDK v3, with and without IAM enforcement.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createServer } from 'node:net';
import { httpAnswers, PeerStartError, requireTool, startMoto, startOnFreePort, startProcess, toolEnv, type MotoPeer } from '../../peers/index.ts';

const run = promisify(execFile);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function sts(moto: MotoPeer, credentials = moto.credentials): STSClient {
  return new STSClient({ endpoint: moto.endpoint, region: moto.region, credentials, maxAttempts: 1 });
}

describe('moto server peer', () => {
  let moto: MotoPeer;
  before(async () => {
    moto = await startMoto();
  });
  after(() => moto?.stop());

  it('answers STS GetCallerIdentity with the fixed test account on a loopback endpoint', async () => {
    assert.match(moto.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const client = sts(moto);
    after(() => client.destroy());

    const id = await client.send(new GetCallerIdentityCommand({}));

    assert.equal(id.Account, '123456789012');
    assert.match(id.Arn ?? '', /^arn:aws:(iam|sts)::123456789012:/);
  });

  it('answers botocore from the peer venv with the same account', async () => {
    const script = [
      'import json, os, botocore.session',
      "c = botocore.session.get_session().create_client('sts', region_name='us-east-1', endpoint_url=os.environ['MOTO'],",
      "    aws_access_key_id=os.environ['KEY_ID'], aws_secret_access_key=os.environ['SECRET'])",
      "print(json.dumps(c.get_caller_identity()['Account']))",
    ].join('\n');

    const { stdout } = await run(requireTool('python'), ['-c', script], {
      env: toolEnv({ MOTO: moto.endpoint, KEY_ID: moto.credentials.accessKeyId, SECRET: moto.credentials.secretAccessKey }),
      timeout: 60_000,
    });

    assert.equal(JSON.parse(stdout), '123456789012');
  });

  it('stores and returns an S3 object (path-style addressing on the loopback endpoint)', async () => {
    const s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 1 });
    after(() => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: 'podiam-peer-smoke' }));

    await s3.send(new PutObjectCommand({ Bucket: 'podiam-peer-smoke', Key: 'a.json', Body: '{"ok":true}' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'podiam-peer-smoke', Key: 'a.json' }));

    assert.equal(await got.Body?.transformToString(), '{"ok":true}');
  });
});

describe('moto server peer with IAM enforcement', () => {
  let moto: MotoPeer;
  before(async () => {
    moto = await startMoto({ enforceIam: true });
  });
  after(() => moto?.stop());

  it('answers GetCallerIdentity for the bootstrap admin user it hands out', async () => {
    const client = sts(moto);
    after(() => client.destroy());

    const id = await client.send(new GetCallerIdentityCommand({}));

    assert.equal(id.Account, '123456789012');
    assert.equal(id.Arn, 'arn:aws:iam::123456789012:user/podiam-test-admin');
  });

  it('refuses an access key it does not know', async () => {
    const client = sts(moto, { accessKeyId: 'AKIAIOSFODNN7UNKNOWN', secretAccessKey: 'not-a-real-secret-key-000000000000000000' });
    after(() => client.destroy());

    await assert.rejects(client.send(new GetCallerIdentityCommand({})), (err: unknown) => {
      assert.equal((err as { name?: string }).name, 'InvalidClientTokenId');
      return true;
    });
  });
});

describe('peer process lifetime', () => {
  it('stops moto when the test process that started it is killed with SIGKILL', async () => {
    const script = [
      "import { startMoto } from './test/peers/index.ts';",
      'const moto = await startMoto();',
      'console.log(moto.endpoint);',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    after(() => child.kill('SIGKILL'));
    const endpoint = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('no endpoint within 30 s')), 30_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
    });
    assert.equal((await fetch(`${endpoint}/moto-api/data.json`)).status, 200);

    child.kill('SIGKILL');

    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      await new Promise((r) => setTimeout(r, 100));
      refused = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) }).then(
        () => false,
        () => true,
      );
    }
    assert.ok(refused, `moto at ${endpoint} still answers 10 s after its test process was killed`);
  });
});

describe('peer start-up failures', () => {
  it('names the peer and shows its output when it exits before answering', async () => {
    await assert.rejects(
      startProcess({ name: 'broken-peer', command: 'bash', args: ['-c', 'echo boom-on-stderr >&2; exit 3'], ready: async () => false }),
      (err: unknown) => {
        assert.ok(err instanceof PeerStartError);
        assert.equal(err.code, 'PODIAM_TEST_PEER_FAILED');
        assert.match(err.message, /broken-peer/);
        assert.match(err.message, /exited early with 3/);
        assert.match(err.message, /boom-on-stderr/);
        return true;
      },
    );
  });

  it('gives up at the readiness deadline and stops the peer that never answered', async () => {
    let pid = 0;
    await assert.rejects(
      startProcess({
        name: 'silent-peer',
        command: 'bash',
        args: ['-c', 'echo "pid $$"; exec sleep 60'],
        ready: async () => false,
        readyTimeoutMs: 500,
      }).catch((err: unknown) => {
        pid = Number(/pid (\d+)/.exec((err as Error).message)?.[1] ?? 0);
        throw err;
      }),
      /silent-peer: did not answer within 500 ms/,
    );
    assert.ok(pid > 0, 'the peer printed its pid');
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `peer process ${pid} is still alive`);
  });
});

describe('free loopback ports', () => {
  it('starts a peer again on a new port when the port it was given was taken in the meantime', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    after(() => squatter.close());
    const taken = (squatter.address() as { port: number }).port;
    const tried: number[] = [];

    const { port, proc } = await startOnFreePort((p) => {
      const use = tried.length === 0 ? taken : p;
      tried.push(use);
      return {
        name: 'moto',
        command: requireTool('motoServer'),
        args: ['-H', '127.0.0.1', '-p', String(use)],
        env: toolEnv(),
        ready: httpAnswers(`http://127.0.0.1:${use}/moto-api/data.json`),
      };
    });
    after(() => proc.stop());

    assert.equal(tried.length, 2);
    assert.equal(tried[0], taken);
    assert.notEqual(port, taken);
    assert.equal(port, tried[1]);
    assert.equal((await fetch(`http://127.0.0.1:${port}/moto-api/data.json`)).status, 200);
  });
});
