/**
 * The rotate actions. Trust changes go through the rotation state and a reconcile run, so the
 * trust that rotate writes is the trust reconcile keeps (no run of reconcile undoes a rotation
 * half-way), and every step is idempotent.
 *
 * Intermediate-role rotation without a gap: begin adds the new ARN next to the old one in every
 * trust policy; the operator moves the proxies to the new role; finish removes the old one.
 * Between the two, both roles can assume every managed role. (A trust principal binds to the
 * role's unique ID: a deleted and recreated intermediate role is a different principal, and
 * IAM shows the old one as AROA…; reconcile rewrites such trust policies.)
 */
import { GetRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { MANAGED_TAG_NAMESPACE, MANAGED_TAG_SERVICE, managedRoleName, managedRolePath, parseRoleArn } from '../../core/src/naming.ts';
import { PodiamError } from '../../core/src/errors.ts';
import { IntermediateRolesMissingError, isNoSuchEntity } from '../../iam-model/src/errors.ts';
import { RotateRequestError } from './errors.ts';
import { listRoleNames, readIntermediates, readRole } from '../../iam-model/src/iam-reader.ts';
import { isManagedBy } from '../../iam-model/src/plan.ts';
import { reconcile, type ReconcileDeps, type ReconcileSummary } from './reconcile.ts';
import { mapLimit } from '../../iam-model/src/retry.ts';
import { readRotationState, trustedIntermediateArns, writeRotationState, type RotationState } from './rotation-state.ts';
import { REVOKE_POLICY_NAME, revokeOlderSessionsPolicy } from '../../iam-model/src/trust.ts';
import type { RotateRequest } from '../rotate/request.ts';

export interface RotateResult {
  action: RotateRequest['action'];
  revoked?: string[];
  trusted?: string[];
  state?: RotationState;
  reconcile?: ReconcileSummary;
}

/** Writes IAM's revocation policy on one service's role, a namespace's roles, or every managed role of the cluster. */
export async function revokeSessions(deps: ReconcileDeps, req: Extract<RotateRequest, { action: 'revoke-sessions' }>, now = new Date()): Promise<RotateResult> {
  const { config } = deps;
  const candidates = req.service
    ? [managedRoleName({ cluster: config.cluster, namespace: req.namespace!, service: req.service })]
    : await listRoleNames(deps.iam, config.cluster);
  const policy = JSON.stringify(revokeOlderSessionsPolicy(now));
  const revoked = await mapLimit(candidates, 4, async (name) => {
    const role = await readRole(deps.iam, name, config.cluster);
    if (!role) {
      if (req.service) throw new PodiamError('PODIAM_ROTATE_REQUEST_INVALID', `role ${name} of ${req.namespace}/${req.service} does not exist; nothing to revoke.`, { status: 404 });
      return undefined;
    }
    // Only roles that carry this cluster's tags; a namespace filter compares the tag, not the name.
    if (!isManagedBy(role, config.cluster, managedRolePath(config.cluster))) return undefined;
    if (req.namespace && role.tags[MANAGED_TAG_NAMESPACE] !== req.namespace) return undefined;
    if (req.service && role.tags[MANAGED_TAG_SERVICE] !== req.service) return undefined;
    await deps.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: REVOKE_POLICY_NAME, PolicyDocument: policy }));
    deps.log('info', 'revoked older sessions', { role: name, before: now.toISOString() });
    return name;
  });
  return { action: 'revoke-sessions', revoked: revoked.filter((r): r is string => r !== undefined) };
}

async function roleExists(deps: ReconcileDeps, arn: string, accountId: string): Promise<boolean> {
  const parsed = parseRoleArn(arn);
  if (!parsed) return false;
  if (parsed.accountId !== accountId) return true;
  try {
    await deps.iam.send(new GetRoleCommand({ RoleName: parsed.name }));
    return true;
  } catch (err: unknown) {
    if (isNoSuchEntity(err)) return false;
    throw err;
  }
}

export async function rotate(deps: ReconcileDeps, req: RotateRequest): Promise<RotateResult> {
  if (req.action === 'revoke-sessions') return revokeSessions(deps, req);
  const { config, s3 } = deps;
  const accountId = await deps.accountId();
  const state = await readRotationState(s3, config.bundleBucket, config.stateKey);
  let next: RotationState = { added: [...state.added], retired: [...state.retired] };

  if (req.action === 'begin-intermediate-rotation') {
    if (!(await roleExists(deps, req.newRoleArn, accountId))) {
      throw new RotateRequestError(`the new intermediate role ${req.newRoleArn} does not exist; create it first (IAM refuses a trust policy naming a missing role)`);
    }
    next = { added: [...next.added, req.newRoleArn], retired: next.retired.filter((a) => a !== req.newRoleArn) };
  } else if (req.action === 'finish-intermediate-rotation') {
    const remaining = trustedIntermediateArns(config.intermediateRoleArns, { ...next, retired: [...next.retired, req.oldRoleArn] });
    const alive = (await readIntermediates(deps.iam, remaining, accountId, new Set())).filter((i) => i.exists);
    // Never retire the last trusted role: every pod would lose its credentials.
    if (alive.length === 0) throw new IntermediateRolesMissingError(remaining);
    next = { added: next.added.filter((a) => a !== req.oldRoleArn), retired: [...next.retired, req.oldRoleArn] };
  } else {
    // prune: forget added roles that are gone, and retirements the stack's parameters caught up with.
    const alive = await Promise.all(next.added.map(async (a) => ((await roleExists(deps, a, accountId)) ? a : undefined)));
    next = {
      added: alive.filter((a): a is string => a !== undefined).filter((a) => !config.intermediateRoleArns.includes(a)),
      retired: next.retired.filter((a) => config.intermediateRoleArns.includes(a)),
    };
  }
  next.updatedAt = new Date().toISOString();
  const changed = JSON.stringify([...new Set(next.added)].sort()) !== JSON.stringify([...state.added].sort()) || JSON.stringify([...new Set(next.retired)].sort()) !== JSON.stringify([...state.retired].sort());
  if (changed) await writeRotationState(s3, config.bundleBucket, config.stateKey, next);
  // The trust policies follow the state; reconcile drops principals that no longer exist and
  // rewrites those IAM shows as unique IDs (a recreated intermediate role).
  const summary = await reconcile(deps, { trigger: `rotate ${req.action}` });
  return { action: req.action, state: next, trusted: trustedIntermediateArns(config.intermediateRoleArns, next), reconcile: summary };
}
