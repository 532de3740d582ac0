/**
 * Applies a plan's changes to IAM. Throttled calls are retried by the IAM client itself (the
 * SDK's standard retry strategy, configured once in aws-clients.ts; see functions/README.md,
 * "Retries"); one role's failure does not stop the others, and is returned so the caller can fail
 * the run (EventBridge then retries it; every change is idempotent).
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
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
import { isManagedFor, managedRefOf, planRoleChanges, type Change, type Collision } from '../../iam-model/src/plan.ts';
import { legacyManagedRoleName, managedRolePath } from '../../core/src/naming.ts';
import { mapLimit } from '../../iam-model/src/retry.ts';

export interface ApplyOptions {
  cluster: string;
  /** Roles worked on in parallel; changes of one role stay in order. */
  concurrency?: number;
  log?: (entry: Record<string, unknown>) => void;
}

export interface ApplyResult {
  applied: Change[];
  collisions: Collision[];
  failures: RoleFailure[];
}

const json = (doc: unknown) => JSON.stringify(doc);

/** CreateRole with everything a managed role carries, then its inline and managed policies. */
export async function createManagedRole(iam: IAMClient, role: DesiredRole, options: { abortSignal?: AbortSignal } = {}): Promise<void> {
  const send = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  await iam.send(
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
    send,
  );
  await iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: role.inlinePolicyName, PolicyDocument: json(role.inlinePolicy) }), send);
  for (const arn of role.managedPolicyArns) {
    await iam.send(new AttachRolePolicyCommand({ RoleName: role.name, PolicyArn: arn }), send);
  }
}

async function applyOne(iam: IAMClient, change: Change): Promise<void> {
  const RoleName = change.roleName;
  switch (change.kind) {
    case 'create-role':
      return createManagedRole(iam, change.role);
    case 'update-trust':
      await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName, PolicyDocument: json(change.after) }));
      return;
    case 'put-inline-policy':
      await iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: change.policyName, PolicyDocument: json(change.after) }));
      return;
    case 'put-intermediate-policy':
      await iam.send(new PutRolePolicyCommand({ RoleName, PolicyName: change.policyName, PolicyDocument: json(change.after) }));
      return;
    case 'delete-inline-policy':
      await iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName: change.policyName }));
      return;
    case 'attach-managed-policy':
      await iam.send(new AttachRolePolicyCommand({ RoleName, PolicyArn: change.policyArn }));
      return;
    case 'detach-managed-policy':
      await iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn: change.policyArn }));
      return;
    case 'tag-role':
      await iam.send(new TagRoleCommand({ RoleName, Tags: Object.entries(change.tags).map(([Key, Value]) => ({ Key, Value })) }));
      return;
    case 'update-role':
      await iam.send(new UpdateRoleCommand({ RoleName, MaxSessionDuration: change.maxSessionDuration, Description: change.description }));
      return;
    case 'put-boundary':
      await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName, PermissionsBoundary: change.boundaryArn }));
      return;
    case 'delete-role':
      // A role with policies cannot be deleted: empty it first (AWSRevokeOlderSessions included, the role goes).
      for (const PolicyName of change.inlinePolicyNames) {
        await ignoreMissing(iam.send(new DeleteRolePolicyCommand({ RoleName, PolicyName })));
      }
      for (const PolicyArn of change.managedPolicyArns) {
        await ignoreMissing(iam.send(new DetachRolePolicyCommand({ RoleName, PolicyArn })));
      }
      await ignoreMissing(iam.send(new DeleteRoleCommand({ RoleName })));
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
async function resolveTakenName(iam: IAMClient, change: Extract<Change, { kind: 'create-role' }>, options: ApplyOptions, result: ApplyResult) {
  const existing = await readRole(iam, change.roleName, options.cluster);
  // Ours only if its tags name exactly this service: a same-named role tagged for another
  // namespace or service is never brought to this service's policy.
  if (existing && isManagedFor(existing, change.role.ref, change.role.path)) {
    const follow = planRoleChanges(change.role, existing, change.role.arn.split(':')[1] ?? 'aws');
    for (const c of follow) {
      await applyOne(iam, c);
      result.applied.push(c);
    }
    return;
  }
  result.collisions.push({
    roleName: change.roleName,
    file: change.role.file,
    existingArn: existing?.arn ?? change.roleName,
    reason: `role name ${change.roleName} is taken by ${existing?.arn ?? 'a role podiam cannot read'}, which does not carry this cluster's podiam tags for ${change.role.ref.namespace}/${change.role.ref.service}; it is never adopted`,
  });
}

/**
 * A migration's delete (the earlier name shape) goes ahead only when its successor exists now as
 * the same service's role: never delete before the new role is there.
 */
async function successorReady(iam: IAMClient, change: Extract<Change, { kind: 'delete-role' }>, options: ApplyOptions): Promise<boolean> {
  if (change.replacedBy === undefined) return true;
  const successor = await readRole(iam, change.replacedBy, options.cluster);
  const ref = successor ? managedRefOf(successor, options.cluster, managedRolePath(options.cluster)) : undefined;
  return ref !== undefined && successor!.name === change.replacedBy && legacyManagedRoleName(ref) === change.roleName;
}

export async function applyPlan(iam: IAMClient, changes: readonly Change[], options: ApplyOptions): Promise<ApplyResult> {
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
        if (change.kind === 'delete-role' && !(await successorReady(iam, change, options))) {
          log({ msg: 'kept the role: its successor does not exist', kind: change.kind, role: change.roleName, successor: change.replacedBy });
          return;
        }
        await applyOne(iam, change);
        result.applied.push(change);
        log({ msg: 'applied', kind: change.kind, role: change.roleName, reason: change.reason });
      } catch (err: unknown) {
        if (change.kind === 'create-role' && awsErrorName(err) === 'EntityAlreadyExistsException') {
          try {
            await resolveTakenName(iam, change, options, result);
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
