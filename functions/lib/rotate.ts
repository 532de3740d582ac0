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
import { IntermediateRoleNotAllowedError, RevokePolicyTooLargeError, RotateRequestError } from './errors.ts';
import { iamPolicySize } from '../../iam-model/src/check/size-rules.ts';

/** IAM's quota for the inline policies of one role, all together (whitespace not counted). */
export const ROLE_INLINE_POLICIES_MAX_CHARS = 10_240;
import { decideIntermediateArn, type IntermediateArnScope } from '../../iam-model/src/intermediate-arns.ts';
import { listRoleNames, readIntermediates, readRole } from '../../iam-model/src/iam-reader.ts';
import { isManagedBy } from '../../iam-model/src/plan.ts';
import type { ReconcileDeps, ReconcileSummary } from './reconcile.ts';
import type { ReconcileWriter } from './reconcile-writer.ts';
import { ConfigError } from '../../core/src/errors.ts';

export interface RotateDeps extends ReconcileDeps {
  /**
   * Runs reconcile where trust is written one run at a time (the reconcile function). Required for
   * every action that changes trust; there is deliberately no in-process fallback.
   */
  reconcileWriter?: ReconcileWriter;
}
import { mapLimit } from '../../iam-model/src/retry.ts';
import { readRotationState, scopeOf, trustedIntermediateArns, writeRotationState, type RotationState } from './rotation-state.ts';
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
  const document = revokeOlderSessionsPolicy(now);
  const policy = JSON.stringify(document);
  const tooLarge: { role: string; others: number; needed: number }[] = [];
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
    // IAM's 10,240 characters hold for all inline policies of a role together, so a large service
    // policy leaves no room and PutRolePolicy fails with LimitExceeded. Measured first, so the
    // answer names the role and the numbers; the other roles are still revoked.
    const others = Object.entries(role.inlinePolicies).filter(([policyName]) => policyName !== REVOKE_POLICY_NAME).reduce((sum, [, doc]) => sum + iamPolicySize(doc), 0);
    const needed = iamPolicySize(document);
    if (others + needed > ROLE_INLINE_POLICIES_MAX_CHARS) {
      tooLarge.push({ role: name, others, needed });
      return undefined;
    }
    await deps.iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: REVOKE_POLICY_NAME, PolicyDocument: policy }));
    deps.log('info', 'revoked older sessions', { role: name, before: now.toISOString() });
    return name;
  });
  const done = revoked.filter((r): r is string => r !== undefined);
  if (tooLarge.length) {
    for (const t of tooLarge) deps.log('error', 'no room for the revocation policy', { code: 'PODIAM_REVOKE_POLICY_TOO_LARGE', role: t.role, inlineChars: t.others, needed: t.needed });
    throw new RevokePolicyTooLargeError(tooLarge, done.length);
  }
  return { action: 'revoke-sessions', revoked: done };
}

/** A role outside the account is never "existing" unless the stack allows it (IAM cannot be asked). */
async function roleExists(deps: ReconcileDeps, arn: string, scope: IntermediateArnScope): Promise<boolean> {
  const decision = decideIntermediateArn(arn, scope);
  if (!decision.allowed) return false;
  if (decision.foreign) return true;
  const parsed = parseRoleArn(arn)!;
  try {
    await deps.iam.send(new GetRoleCommand({ RoleName: parsed.name }));
    return true;
  } catch (err: unknown) {
    if (isNoSuchEntity(err)) return false;
    throw err;
  }
}

export async function rotate(deps: RotateDeps, req: RotateRequest): Promise<RotateResult> {
  if (req.action === 'revoke-sessions') return revokeSessions(deps, req);
  const { config, s3 } = deps;
  const writer = deps.reconcileWriter;
  if (!writer) throw new ConfigError('PODIAM_RECONCILE_FUNCTION_ARN', 'is not set', 'Set it to the reconcile function (the stack sets it): rotate changes trust only through that function.');
  const accountId = await deps.accountId();
  const scope = scopeOf(config, accountId);
  const state = await readRotationState(s3, config.bundleBucket, config.stateKey, scope);
  let next: RotationState = { added: [...state.added], retired: [...state.retired] };

  if (req.action === 'begin-intermediate-rotation') {
    // Checked again here, not only when the request was parsed: this is the write that makes a
    // role a principal of every managed role's trust.
    const decision = decideIntermediateArn(req.newRoleArn, scope);
    if (!decision.allowed) throw new IntermediateRoleNotAllowedError('newRoleArn', decision.reason);
    if (!(await roleExists(deps, req.newRoleArn, scope))) {
      throw new RotateRequestError(`the new intermediate role ${req.newRoleArn} does not exist; create it first (IAM refuses a trust policy naming a missing role)`);
    }
    next = { added: [...next.added, req.newRoleArn], retired: next.retired.filter((a) => a !== req.newRoleArn) };
  } else if (req.action === 'finish-intermediate-rotation') {
    const remaining = trustedIntermediateArns(config.intermediateRoleArns, { ...next, retired: [...next.retired, req.oldRoleArn] });
    const alive = (await readIntermediates(deps.iam, remaining, accountId, new Set(), scope.allowed)).filter((i) => i.exists);
    // Never retire the last trusted role: every pod would lose its credentials.
    if (alive.length === 0) throw new IntermediateRolesMissingError(remaining);
    next = { added: next.added.filter((a) => a !== req.oldRoleArn), retired: [...next.retired, req.oldRoleArn] };
  } else {
    // prune: forget added roles that are gone, and retirements the stack's parameters caught up with.
    const alive = await Promise.all(next.added.map(async (a) => ((await roleExists(deps, a, scope)) ? a : undefined)));
    next = {
      added: alive.filter((a): a is string => a !== undefined).filter((a) => !config.intermediateRoleArns.includes(a)),
      retired: next.retired.filter((a) => config.intermediateRoleArns.includes(a)),
    };
  }
  next.updatedAt = new Date().toISOString();
  const changed = JSON.stringify([...new Set(next.added)].sort()) !== JSON.stringify([...state.added].sort()) || JSON.stringify([...new Set(next.retired)].sort()) !== JSON.stringify([...state.retired].sort());
  if (changed) await writeRotationState(s3, config.bundleBucket, config.stateKey, next);
  // The trust policies follow the state, written by the reconcile function only (one run at a
  // time, see reconcile-writer.ts); it drops principals that no longer exist and rewrites those
  // IAM shows as unique IDs (a recreated intermediate role).
  const summary = await writer({ trigger: `rotate ${req.action}` });
  return { action: req.action, state: next, trusted: trustedIntermediateArns(config.intermediateRoleArns, next), reconcile: summary };
}
