// `podiam publish --bucket` against moto's S3 (a real S3 API on loopback).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseBundle } from '../../../iam-model/src/bundle/parse-bundle.ts';
import { run } from '../../../cli/src/main.ts';
import { startMoto, type MotoPeer } from '../../peers/index.ts';

const repo = path.resolve(import.meta.dirname, '../../..');

describe('podiam publish', () => {
  let moto: MotoPeer | undefined;
  let s3: S3Client | undefined;
  let env: Record<string, string>;
  const tmp = mkdtempSync(path.join(tmpdir(), 'podiam-publish-'));
  after(async () => {
    s3?.destroy();
    await moto?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  before(async () => {
    moto = await startMoto();
    env = {
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      AWS_REGION: moto.region,
      AWS_ENDPOINT_URL: moto.endpoint,
    };
    s3 = new S3Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true, maxAttempts: 1 });
    await s3!.send(new CreateBucketCommand({ Bucket: 'podiam-bundles' }));
  });

  async function podiam(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
    return { code, stdout, stderr };
  }

  it('writes the bundle file and uploads the same bytes to the bucket, with the hash as object metadata', async () => {
    const out = path.join(tmp, 'bundle.json');
    const r = await podiam(['publish', path.join(repo, 'policies'), '--out', out, '--bucket', 'podiam-bundles']);
    assert.equal(r.code, 0, r.stderr);
    const local = readFileSync(out, 'utf8');
    const bundle = parseBundle(local);
    assert.match(r.stdout, new RegExp(`uploaded s3://podiam-bundles/bundle\\.json \\(sha256 ${bundle.hash}\\)`));

    const obj = await s3!.send(new GetObjectCommand({ Bucket: 'podiam-bundles', Key: 'bundle.json' }));
    assert.equal(await obj.Body!.transformToString(), local);
    assert.equal(obj.ContentType, 'application/json');
    assert.equal(obj.Metadata?.['podiam-bundle-sha256'], bundle.hash);
    assert.deepEqual(bundle.services.map((s) => s.file), ['policies/dns/updater.json', 'policies/orders/ledger.json', 'policies/orders/reader.json']);
  });

  it('uploads under --key', async () => {
    const r = await podiam(['publish', path.join(repo, 'policies'), '--out', path.join(tmp, 'b2.json'), '--bucket', 'podiam-bundles', '--key', 'clusters/dev/bundle.json']);
    assert.equal(r.code, 0, r.stderr);
    const head = await s3!.send(new HeadObjectCommand({ Bucket: 'podiam-bundles', Key: 'clusters/dev/bundle.json' }));
    assert.match(head.Metadata?.['podiam-bundle-sha256'] ?? '', /^[0-9a-f]{64}$/);
  });

  it('publishes nothing when the policies have errors', async () => {
    const out = path.join(tmp, 'bad.json');
    const r = await podiam(['publish', path.join(repo, 'test/fixtures/policies/sid-duplicate/fail'), '--guardrails', path.join(repo, 'policies/guardrails.json'), '--out', out, '--bucket', 'podiam-bundles', '--key', 'bad.json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_CHECK_FAILED /);
    assert.equal(existsSync(out), false);
    await assert.rejects(s3!.send(new HeadObjectCommand({ Bucket: 'podiam-bundles', Key: 'bad.json' })), (err: Error) => err.name === 'NotFound');
  });

  it('fails with PODIAM_PUBLISH_FAILED when the bucket does not exist', async () => {
    const r = await podiam(['publish', path.join(repo, 'policies'), '--out', path.join(tmp, 'b3.json'), '--bucket', 'no-such-bucket']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_PUBLISH_FAILED uploading s3:\/\/no-such-bucket\/bundle\.json failed \(NoSuchBucket/);
  });
});
