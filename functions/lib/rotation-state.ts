/**
 * Which intermediate roles the trust policies name, across an intermediate-role rotation.
 * The stack's IntermediateRoleArns parameter says where we are headed; the rotation state in
 * the bundle bucket (written by the rotate function) says which ARN is being added and which
 * has been retired, so reconcile and admission build the same trust as rotate did, and no run
 * of reconcile undoes a rotation half-way.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { awsErrorName } from '../../iam-model/src/errors.ts';
import { decideIntermediateArn, intermediateArnScope, type IntermediateArnScope } from '../../iam-model/src/intermediate-arns.ts';
import type { FunctionsConfig } from './config.ts';
import { RotationStateError } from './errors.ts';

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

/** The intermediate-ARN scope of this stack: its partition and account, plus the ARNs its parameters name. */
export function scopeOf(config: Pick<FunctionsConfig, 'intermediateRoleArns' | 'foreignIntermediateRoleArns' | 'partition'>, accountId: string): IntermediateArnScope {
  return intermediateArnScope({ partition: config.partition ?? 'aws', accountId, configured: config.intermediateRoleArns, foreignAllowed: config.foreignIntermediateRoleArns ?? [] });
}

/**
 * Only the rotate function writes this object, and it writes only ARNs it checked. Anything else
 * in it (not JSON, not a list of role ARNs, a role of another account) means someone else wrote
 * it: the whole state is refused, so the run fails loudly and changes no trust policy, rather
 * than trusting the foreign role or silently dropping a rotation in progress.
 */
function parseState(text: string, key: string, scope: IntermediateArnScope): RotationState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err: unknown) {
    throw new RotationStateError(key, 'is not JSON', { cause: err });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new RotationStateError(key, 'is not a JSON object');
  const r = raw as Record<string, unknown>;
  const list = (field: 'added' | 'retired'): string[] => {
    const v = r[field] ?? [];
    if (!Array.isArray(v)) throw new RotationStateError(key, `has ${field} that is not a list`);
    return v.map((a: unknown) => {
      if (typeof a !== 'string') throw new RotationStateError(key, `has ${field} entry ${JSON.stringify(a)} that is not a string`);
      const decision = decideIntermediateArn(a, scope);
      if (!decision.allowed) throw new RotationStateError(key, `names a role that may not be an intermediate role in ${field}: ${decision.reason}`);
      return a;
    });
  };
  return { added: list('added'), retired: list('retired'), ...(typeof r.updatedAt === 'string' ? { updatedAt: r.updatedAt } : {}) };
}

export async function readRotationState(s3: S3Client, bucket: string, key: string, scope: IntermediateArnScope): Promise<RotationState> {
  let text: string;
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = await res.Body!.transformToString('utf8');
  } catch (err: unknown) {
    const name = awsErrorName(err);
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // No state object: no rotation has happened; the configured ARNs are the truth.
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return { ...EMPTY_ROTATION };
    throw err;
  }
  return parseState(text, key, scope);
}

export async function writeRotationState(s3: S3Client, bucket: string, key: string, state: RotationState): Promise<void> {
  const body = JSON.stringify({ ...state, added: [...new Set(state.added)].sort(), retired: [...new Set(state.retired)].sort() }, null, 2);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
}
