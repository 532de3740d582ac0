/**
 * Reads the published bundle from S3. Validation (structure and content hash) is the CLI's
 * loader, cli/src/bundle/load-bundle.ts — light on purpose (node:crypto and core only), so the
 * functions check exactly what `podiam publish` wrote.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseBundle } from '../../iam-model/src/bundle/parse-bundle.ts';
import type { Bundle } from '../../iam-model/src/bundle/bundle.ts';
import { BundleError, awsErrorName } from '../../iam-model/src/errors.ts';
import type { BundleVerifier } from './bundle-signature.ts';

export { parseBundle };

export interface BundleLocation {
  bucket: string;
  key: string;
}

export interface LoadedBundle {
  bundle: Bundle;
  etag?: string;
  versionId?: string;
}

/**
 * Reads the bundle; `etag` makes it a conditional GET that answers undefined when unchanged.
 * `verify` (set when the stack names BundleSigningKeyArn) runs on every newly read bundle, after
 * its content hash was checked: a bundle it refuses is never returned, so never cached either.
 */
export async function loadBundle(s3: S3Client, where: BundleLocation, etag?: string, signal?: AbortSignal, verify?: BundleVerifier): Promise<LoadedBundle | undefined> {
  let loaded: LoadedBundle;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: where.bucket, Key: where.key, ...(etag ? { IfNoneMatch: etag } : {}) }), signal ? { abortSignal: signal } : {});
    const text = await res.Body!.transformToString('utf8');
    loaded = { bundle: parseBundle(text), ...(res.ETag ? { etag: res.ETag } : {}), ...(res.VersionId ? { versionId: res.VersionId } : {}) };
  } catch (err: unknown) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (etag && status === 304) return undefined;
    const name = awsErrorName(err);
    if (name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'NotFound' || status === 404) {
      throw new BundleError('PODIAM_BUNDLE_NOT_FOUND', `no bundle at s3://${where.bucket}/${where.key}; publish one with \`podiam publish --bucket ${where.bucket} --key ${where.key}\`.`, { cause: err });
    }
    throw err;
  }
  if (verify) await verify(loaded.bundle, signal);
  return loaded;
}

/**
 * Keeps the last bundle for `ttlMs` and then revalidates it with a conditional GET, so the
 * admission function reads S3 about twice a minute, not on every pod. The Promise is shared by
 * concurrent callers and dropped when it fails.
 */
export function cachedBundleSource(s3: S3Client, where: BundleLocation, ttlMs: number, now: () => number = Date.now, verify?: BundleVerifier) {
  let last: { loaded: LoadedBundle; at: number } | undefined;
  let pending: Promise<LoadedBundle> | undefined;
  return (signal?: AbortSignal): Promise<LoadedBundle> => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.loaded);
    pending ??= (async () => {
      try {
        const fresh = await loadBundle(s3, where, last?.loaded.etag, signal, verify);
        const loaded = fresh ?? last!.loaded;
        last = { loaded, at: now() };
        return loaded;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
}
