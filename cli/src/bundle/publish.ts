/** Uploads a bundle to S3; the object-created event is what starts the reconcile function. */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { CliError } from '../errors.ts';
import { serializeBundle } from '../../../iam-model/src/bundle/build-bundle.ts';

export const DEFAULT_BUNDLE_KEY = 'bundle.json';
/** Object metadata (x-amz-meta-podiam-bundle-sha256) so the hash is visible without downloading. */
export const HASH_METADATA_KEY = 'podiam-bundle-sha256';

export interface UploadResult {
  bucket: string;
  key: string;
  hash: string;
  etag?: string;
}

export async function uploadBundle(client: S3Client, bundle: Bundle, bucket: string, key = DEFAULT_BUNDLE_KEY): Promise<UploadResult> {
  try {
    const out = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: serializeBundle(bundle),
        ContentType: 'application/json',
        Metadata: { [HASH_METADATA_KEY]: bundle.hash },
      }),
    );
    return { bucket, key, hash: bundle.hash, ...(out.ETag ? { etag: out.ETag } : {}) };
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    throw new CliError('PODIAM_PUBLISH_FAILED', `uploading s3://${bucket}/${key} failed (${name}: ${err instanceof Error ? err.message : String(err)}).`, { cause: err });
  }
}
