/**
 * Applies a plan's changes to IAM. Every call goes through withThrottleRetry (backoff with
 * jitter); one role's failure does not stop the others, and is returned so the caller can fail
 * the run (EventBridge then retries it; every change is idempotent).
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { describeError } from '../../core/src/errors.ts';
import type { DesiredRole } from '../../iam-model/src/desired-state.ts';
import { awsErrorName, isNoSuchEntity } from '../../iam-model/src/errors.ts';
import type { RoleFailure } from './errors.ts';
import { readRole } from '../../iam-model/src/iam-reader.ts';
import { isManagedBy, planRoleChanges, type Change, type Collision } from '../../iam-model/src/plan.ts';
import { mapLimit, withThrottleRetry, type RetryOptions } from '../../iam-model/src/retry.ts';

export interface ApplyOptions {
  cluster: string;
  /** Roles worked on in parallel; changes of one role stay in order. */
  concurrency?: number;
  retry?: RetryOptions;
  log?: (entry: Record<string, unknown>) => void;
}

export interface ApplyResult {
  applied: Change[];
  collisions: Collision[];
  failures: RoleFailure[];
}

const json = (doc: unknown) => JSON.stringify(doc);

/** CreateRole with everything a managed role carries, then its inline and managed policies. */
export async function createManagedRole(iam: IAMClient, role: DesiredRole, retry: RetryOptions = {}): Promise<void> {
  await withThrottleRetry('CreateRole', () =>
    iam.send(
      new CreateRoleCommand({
        RoleName: role.name,
        Path: role.path,
        AssumeRolePolicyDocument: json(role.trustPolicy),
        Description: role.description,
        MaxSessionDuration: role.maxSessionDuration,
        ...(role.permissionsBoundaryArn ? { PermissionsBoundary: role.permissionsBoundaryArn } : {}),
        // Tags in the same call: the role is never visible without them, so it is never mistaken for unmanaged.
        Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    ), retry);
  await withThrottleRetry('PutRolePolicy', () =>
    iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: role.inlinePolicyName, PolicyDocument: json(role.inlinePolicy) })), retry);
  for (const arn of role.managedPolicyArns) {
    await withThrottleRetry('AttachRolePolicy', () => iam.send(new AttachRolePolicyCommand({ RoleName: role.name, PolicyArn: arn })), retry);
  }
}

async function applyOne(iam: IAMClient, change: Change, retry: RetryOptions): Promise<void> {
  const RoleName = change.roleName;
  switch (change.kind) {
    case 'create-role':
      return createManagedRole(iam, change.role, retry);
    case 'update-trust':
      await withThrottleRetry('UpdateAssumeRolePolicy', () => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: json(change.after) })), retry);
      return;
    case 'put-inline-policy':
      await withThrottleRetry('PutRolePolicy', () => iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: change.policyName, PolicyDocument: json(change.after) })), retry);
      return;
    case 'put-intermediate-policy':
      await withThrottleRetry('PutRolePolicy', () => iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: change.policyName, PolicyDocument: json(change.after) })), retry);
      return;
    case 'delete-inline-policy':
      await withThrottleRetry('DeleteRolePolicy', () => iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: change.policyName })), retry);
      return;
    case 'attach-managed-policy':
      await withThrottleRetry('AttachRolePolicy', () => iam.send(new AttachRolePolicyCommand({ RoleName, PolicyArn: change.policyArn })), retry);
      return;
    case 'detach-managed-policy':
      await withThrottleRetry('DetachRolePolicy', () => iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn: change.policyArn })), retry);
      return;
    case 'tag-role':
      await withThrottleRetry('TagRole', () => iam.send(new TagRoleCommand({ RoleName, Tags: Object.entries(change.tags).map(([Key, Value]) => ({ Key, Value })) })), retry);
      return;
    case 'update-role':
      await withThrottleRetry('UpdateRole', () => iam.send(new UpdateRoleCommand({ RoleName, MaxSessionDuration: change.maxSessionDuration, Description: change.description })), retry);
      return;
    case 'put-boundary':
      await withThrottleRetry('PutRolePermissionsBoundary', () => iam.send(new PutRolePermissionsBoundaryCommand({ RoleName, PermissionsBoundary: change.boundaryArn })), retry);
      return;
    case 'delete-boundary':
      await withThrottleRetry('DeleteRolePermissionsBoundary', () => iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName })), retry);
      return;
    case 'delete-role':
      // A role with policies cannot be deleted: empty it first (AWSRevokeOlderSessions included, the role goes).
      for (const PolicyName of change.inlinePolicyNames) {
        await ignoreMissing(withThrottleRetry('DeleteRolePolicy', () => iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName })), retry));
      }
      for (const PolicyArn of change.managedPolicyArns) {
        await ignoreMissing(withThrottleRetry('DetachRolePolicy', () => iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn })), retry));
      }
      await ignoreMissing(withThrottleRetry('DeleteRole', () => iam.send(new DeleteRoleCommand({ RoleName })), retry));
      return;
  }
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err: unknown) {
    if (!isNoSuchEntity(err)) throw err;
  }
}

/**
 * A create that finds the name taken: if the role is ours after all (admission created it on
 * demand meanwhile), bring it to the desired state; otherwise it is a collision, never adopted.
 */
async function resolveTakenName(iam: IAMClient, change: Extract<Change, { kind: 'create-role' }>, options: ApplyOptions, result: ApplyResult, retry: RetryOptions) {
  const existing = await readRole(iam, change.roleName, options.cluster, retry);
  if (existing && isManagedBy(existing, options.cluster, change.role.path)) {
    const follow = planRoleChanges(change.role, existing, change.role.arn.split(':')[1] ?? 'aws');
    for (const c of follow) {
      await applyOne(iam, c, retry);
      result.applied.push(c);
    }
    return;
  }
  result.collisions.push({
    roleName: change.roleName,
    file: change.role.file,
    existingArn: existing?.arn ?? change.roleName,
    reason: `role name ${change.roleName} is taken by ${existing?.arn ?? 'a role podiam cannot read'}, which does not carry this cluster's podiam tags; it is never adopted`,
  });
}

export async function applyPlan(iam: IAMClient, changes: readonly Change[], options: ApplyOptions): Promise<ApplyResult> {
  const retry = options.retry ?? {};
  const log = options.log ?? (() => {});
  const result: ApplyResult = { applied: [], collisions: [], failures: [] };
  const deletes = changes.filter((c) => c.kind === 'delete-role');
  const byRole = new Map<string, Change[]>();
  for (const c of changes) {
    if (c.kind === 'delete-role') continue;
    byRole.set(c.roleName, [...(byRole.get(c.roleName) ?? []), c]);
  }
  const runRole = async (roleChanges: Change[]) => {
    for (const change of roleChanges) {
      try {
        await applyOne(iam, change, retry);
        result.applied.push(change);
        log({ msg: 'applied', kind: change.kind, role: change.roleName, reason: change.reason });
      } catch (err: unknown) {
        if (change.kind === 'create-role' && awsErrorName(err) === 'EntityAlreadyExistsException') {
          try {
            await resolveTakenName(iam, change, options, result, retry);
          } catch (inner: unknown) {
            result.failures.push({ roleName: change.roleName, ...describeError(inner) });
          }
          return;
        }
        result.failures.push({ roleName: change.roleName, ...describeError(err) });
        return;
      }
    }
  };
  // Creations and updates first, deletions after: a rename never leaves a moment without a role.
  await mapLimit([...byRole.values()], options.concurrency ?? 4, runRole);
  await mapLimit(deletes.map((d) => [d]), options.concurrency ?? 4, runRole);
  return result;
}
