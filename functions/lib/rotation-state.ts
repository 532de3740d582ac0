/**
 * Which intermediate roles the trust policies name, across an intermediate-role rotation.
 * The stack's IntermediateRoleArns parameter says where we are headed; the rotation state in
 * the bundle bucket (written by the rotate function) says which ARN is being added and which
 * has been retired, so reconcile and admission build the same trust as rotate did, and no run
 * of reconcile undoes a rotation half-way.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseRoleArn } from '../../core/src/naming.ts';
import { BundleError, awsErrorName } from '../../iam-model/src/errors.ts';

export interface RotationState {
  /** ARNs trusted in addition to the configured ones (the new role while proxies switch). */
  added: string[];
  /** ARNs no longer trusted even if still configured (the old role after the switch). */
  retired: string[];
  updatedAt?: string;
}

export const EMPTY_ROTATION: RotationState = { added: [], retired: [] };

/** (configured ∪ added) − retired, sorted. */
export function trustedIntermediateArns(configured: readonly string[], state: RotationState): string[] {
  const retired = new Set(state.retired);
  return [...new Set([...configured, ...state.added])].filter((a) => !retired.has(a)).sort();
}

function parseState(text: string, key: string): RotationState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err: unknown) {
    throw new BundleError('PODIAM_BUNDLE_INVALID', `rotation state ${key} is not JSON; delete it and run the rotation again.`, { cause: err });
  }
  const r = raw as Partial<RotationState>;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string' && parseRoleArn(a) !== undefined) : []);
  return { added: list(r.added), retired: list(r.retired), ...(typeof r.updatedAt === 'string' ? { updatedAt: r.updatedAt } : {}) };
}

export async function readRotationState(s3: S3Client, bucket: string, key: string): Promise<RotationState> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return parseState(await res.Body!.transformToString('utf8'), key);
  } catch (err: unknown) {
    const name = awsErrorName(err);
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // No state object: no rotation has happened; the configured ARNs are the truth.
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return { ...EMPTY_ROTATION };
    throw err;
  }
}

export async function writeRotationState(s3: S3Client, bucket: string, key: string, state: RotationState): Promise<void> {
  const body = JSON.stringify({ ...state, added: [...new Set(state.added)].sort(), retired: [...new Set(state.retired)].sort() }, null, 2);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
}
