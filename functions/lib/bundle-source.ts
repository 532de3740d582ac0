/**
 * Reads the published bundle from S3 and checks its shape before anything acts on it.
 * The check here is minimal on purpose (the CLI's `podiam publish` validated every policy);
 * it refuses what would make the functions do something wrong: a wrong schema version, a
 * services list whose entries lack the fields desired-state.ts reads.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Bundle, ServicePolicy } from '../../core/src/bundle.ts';
import { isDnsLabel } from '../../core/src/naming.ts';
import { BundleError, awsErrorName } from './errors.ts';

function fail(where: string, problem: string): never {
  throw new BundleError('PODIAM_BUNDLE_INVALID', `bundle ${where}: ${problem}; publish it again with \`podiam publish\` from a checkout where \`podiam check\` passes.`);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function validateService(raw: unknown, i: number): ServicePolicy {
  const where = `services[${i}]`;
  if (!isObject(raw)) fail(where, 'is not an object');
  const { namespace, service, file, policy, managedPolicyArns, maxSessionDuration } = raw;
  if (typeof namespace !== 'string' || !isDnsLabel(namespace)) fail(`${where}.namespace`, 'is not a DNS-1123 label');
  if (typeof service !== 'string' || !isDnsLabel(service)) fail(`${where}.service`, 'is not a DNS-1123 label');
  if (typeof file !== 'string' || file === '') fail(`${where}.file`, 'is missing');
  if (!isObject(policy) || (policy.Statement === undefined)) fail(`${where}.policy`, 'is not a policy document with a Statement');
  if (managedPolicyArns !== undefined && (!Array.isArray(managedPolicyArns) || !managedPolicyArns.every((a) => typeof a === 'string' && a.startsWith('arn:')))) {
    fail(`${where}.managedPolicyArns`, 'is not a list of policy ARNs');
  }
  if (maxSessionDuration !== undefined && typeof maxSessionDuration !== 'number') fail(`${where}.maxSessionDuration`, 'is not a number');
  return { ...(raw as unknown as ServicePolicy), managedPolicyArns: (managedPolicyArns as string[] | undefined) ?? [] };
}

/** Parses and checks a bundle's JSON text. */
export function parseBundle(text: string): Bundle {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err: unknown) {
    throw new BundleError('PODIAM_BUNDLE_INVALID', `bundle is not JSON (${(err as Error).message}); publish it again with \`podiam publish\`.`, { cause: err });
  }
  if (!isObject(raw)) fail('', 'is not an object');
  if (raw.schemaVersion !== 1) fail('schemaVersion', `is ${JSON.stringify(raw.schemaVersion)}, this function reads 1`);
  if (typeof raw.hash !== 'string' || !/^[0-9a-f]{64}$/.test(raw.hash)) fail('hash', 'is not a sha256 hex digest');
  if (!isObject(raw.guardrails)) fail('guardrails', 'is missing');
  if (!Array.isArray(raw.services)) fail('services', 'is not a list');
  const services = raw.services.map(validateService);
  return { ...(raw as unknown as Bundle), services };
}

export interface BundleLocation {
  bucket: string;
  key: string;
}

export interface LoadedBundle {
  bundle: Bundle;
  etag?: string;
  versionId?: string;
}

/** Reads the bundle; `etag` makes it a conditional GET that answers undefined when unchanged. */
export async function loadBundle(s3: S3Client, where: BundleLocation, etag?: string, signal?: AbortSignal): Promise<LoadedBundle | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: where.bucket, Key: where.key, ...(etag ? { IfNoneMatch: etag } : {}) }), signal ? { abortSignal: signal } : {});
    const text = await res.Body!.transformToString('utf8');
    return { bundle: parseBundle(text), ...(res.ETag ? { etag: res.ETag } : {}), ...(res.VersionId ? { versionId: res.VersionId } : {}) };
  } catch (err: unknown) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (etag && status === 304) return undefined;
    const name = awsErrorName(err);
    if (name === 'NoSuchKey' || name === 'NoSuchBucket' || name === 'NotFound' || status === 404) {
      throw new BundleError('PODIAM_BUNDLE_NOT_FOUND', `no bundle at s3://${where.bucket}/${where.key}; publish one with \`podiam publish --bucket ${where.bucket} --key ${where.key}\`.`, { cause: err });
    }
    throw err;
  }
}

/**
 * Keeps the last bundle for `ttlMs` and then revalidates it with a conditional GET, so the
 * admission function reads S3 about twice a minute, not on every pod. The Promise is shared by
 * concurrent callers and dropped when it fails.
 */
export function cachedBundleSource(s3: S3Client, where: BundleLocation, ttlMs: number, now: () => number = Date.now) {
  let last: { loaded: LoadedBundle; at: number } | undefined;
  let pending: Promise<LoadedBundle> | undefined;
  return (signal?: AbortSignal): Promise<LoadedBundle> => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.loaded);
    pending ??= (async () => {
      try {
        const fresh = await loadBundle(s3, where, last?.loaded.etag, signal);
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
