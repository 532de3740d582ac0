/**
 * The semantic diff between the desired state and what IAM holds: a list of typed changes.
 * Pure. Reconcile applies the list; `podiam plan` prints it. A change appears only on a real
 * semantic difference, so a run with nothing to change makes zero IAM writes.
 */
import { MANAGED_TAG_CLUSTER, MANAGED_TAG_NAMESPACE, MANAGED_TAG_SERVICE } from '../../core/src/naming.ts';
import type { PolicyDocument } from './bundle/bundle.ts';
import type { DesiredRole, DesiredState } from './desired-state.ts';
import { canonicalPolicy, policiesEqual, type CanonicalPolicy } from './policy-compare.ts';
import { REVOKE_POLICY_NAME } from './trust.ts';

/** A role as read from IAM (see iam-reader.ts). Policy documents are parsed (not URL-encoded). */
export interface CurrentRole {
  name: string;
  path: string;
  arn: string;
  roleId?: string;
  description?: string;
  maxSessionDuration: number;
  permissionsBoundaryArn?: string;
  trustPolicy: unknown;
  tags: Record<string, string>;
  /** Inline policy name → parsed document. */
  inlinePolicies: Record<string, unknown>;
  managedPolicyArns: string[];
}

export interface CurrentIntermediate {
  arn: string;
  exists: boolean;
  /** Our inline policy on it, parsed; undefined when absent. */
  policy?: unknown;
}

export interface CurrentState {
  /** Every role under the cluster's path, managed or not. */
  roles: CurrentRole[];
  intermediates: CurrentIntermediate[];
}

/** Managed by this cluster: under its path and tagged with its name. Nothing else is ever changed or deleted. */
export function isManagedBy(role: Pick<CurrentRole, 'path' | 'tags'>, cluster: string, path: string): boolean {
  return role.path === path && role.tags[MANAGED_TAG_CLUSTER] === cluster && MANAGED_TAG_NAMESPACE in role.tags && MANAGED_TAG_SERVICE in role.tags;
}

export type Change =
  | { kind: 'create-role'; roleName: string; role: DesiredRole; reason: string }
  | { kind: 'update-trust'; roleName: string; before: CanonicalPolicy; after: PolicyDocument; reason: string }
  | { kind: 'put-inline-policy'; roleName: string; policyName: string; before?: CanonicalPolicy; after: PolicyDocument; reason: string }
  | { kind: 'delete-inline-policy'; roleName: string; policyName: string; reason: string }
  | { kind: 'attach-managed-policy'; roleName: string; policyArn: string; reason: string }
  | { kind: 'detach-managed-policy'; roleName: string; policyArn: string; reason: string }
  | { kind: 'tag-role'; roleName: string; tags: Record<string, string>; reason: string }
  | { kind: 'update-role'; roleName: string; maxSessionDuration: number; description: string; reason: string }
  | { kind: 'put-boundary'; roleName: string; boundaryArn: string; reason: string }
  | { kind: 'delete-role'; roleName: string; inlinePolicyNames: string[]; managedPolicyArns: string[]; reason: string }
  | { kind: 'put-intermediate-policy'; roleName: string; roleArn: string; policyName: string; after: PolicyDocument; reason: string };

export type ChangeKind = Change['kind'];

/** A desired role whose name is held by a role this cluster does not manage. Reported, never adopted. */
export interface Collision {
  roleName: string;
  file: string;
  existingArn: string;
  reason: string;
}

export interface Plan {
  changes: Change[];
  collisions: Collision[];
  /** Desired roles that already match. */
  unchanged: string[];
  /** Things the plan cannot act on (intermediate role missing or in another account). */
  notes: string[];
}

export interface PlanOptions {
  /** Only these role names (a drift event names one role). Roles outside it are neither created nor deleted. */
  scope?: ReadonlySet<string>;
}

/** The changes that bring one existing managed role to its desired state (none when it matches). */
export function planRoleChanges(want: DesiredRole, have: CurrentRole, partition: string): Change[] {
  const out: Change[] = [];
  const roleName = want.name;
  const opts = { partition };

  const differing = Object.keys(want.tags).filter((k) => have.tags[k] !== want.tags[k]);
  // All three tags in the request: the functions' IAM policy allows TagRole only when the request carries this cluster's tag.
  if (differing.length) out.push({ kind: 'tag-role', roleName, tags: { ...want.tags }, reason: `tags ${differing.join(', ')} differ` });

  if (!policiesEqual(want.trustPolicy, have.trustPolicy, opts)) {
    out.push({ kind: 'update-trust', roleName, before: canonicalPolicy(have.trustPolicy ?? {}, opts), after: want.trustPolicy, reason: 'trust policy differs' });
  }

  if (have.maxSessionDuration !== want.maxSessionDuration || (have.description ?? '') !== want.description) {
    const what = have.maxSessionDuration !== want.maxSessionDuration ? `MaxSessionDuration ${have.maxSessionDuration} → ${want.maxSessionDuration}` : 'description differs';
    out.push({ kind: 'update-role', roleName, maxSessionDuration: want.maxSessionDuration, description: want.description, reason: what });
  }

  // Never a removal: a boundary on a role of a stack that sets none stays (only restricts), and
  // the functions' IAM policy does not allow iam:DeleteRolePermissionsBoundary at all.
  if (want.permissionsBoundaryArn && have.permissionsBoundaryArn !== want.permissionsBoundaryArn) {
    out.push({ kind: 'put-boundary', roleName, boundaryArn: want.permissionsBoundaryArn, reason: `permissions boundary ${have.permissionsBoundaryArn ?? 'missing'}` });
  }

  const haveInline = have.inlinePolicies[want.inlinePolicyName];
  if (haveInline === undefined || !policiesEqual(want.inlinePolicy, haveInline, opts)) {
    out.push({
      kind: 'put-inline-policy',
      roleName,
      policyName: want.inlinePolicyName,
      ...(haveInline === undefined ? {} : { before: canonicalPolicy(haveInline, opts) }),
      after: want.inlinePolicy,
      reason: haveInline === undefined ? 'inline policy missing' : 'inline policy differs',
    });
  }
  for (const name of Object.keys(have.inlinePolicies).sort()) {
    // AWSRevokeOlderSessions is what a session revocation wrote: removing it would re-enable stolen sessions.
    if (name !== want.inlinePolicyName && name !== REVOKE_POLICY_NAME) {
      out.push({ kind: 'delete-inline-policy', roleName, policyName: name, reason: `inline policy ${name} is not in ${want.file}` });
    }
  }

  const haveManaged = new Set(have.managedPolicyArns);
  const wantManaged = new Set(want.managedPolicyArns);
  for (const arn of want.managedPolicyArns) {
    if (!haveManaged.has(arn)) out.push({ kind: 'attach-managed-policy', roleName, policyArn: arn, reason: `${arn} is in ${want.file}` });
  }
  for (const arn of [...haveManaged].sort()) {
    if (!wantManaged.has(arn)) out.push({ kind: 'detach-managed-policy', roleName, policyArn: arn, reason: `${arn} is not in ${want.file}` });
  }
  return out;
}

/**
 * Compares desired and current state. Order of the result: creations, updates (per role), the
 * intermediate roles' policies, deletions last — so a rename never leaves a moment without a role.
 */
export function planChanges(desired: DesiredState, current: CurrentState, options: PlanOptions = {}): Plan {
  const inScope = (name: string) => options.scope === undefined || options.scope.has(name);
  const plan: Plan = { changes: [], collisions: [], unchanged: [], notes: [] };
  const currentByName = new Map(current.roles.map((r) => [r.name, r]));
  const desiredNames = new Set(desired.roles.map((r) => r.name));
  const partition = desired.account.partition;

  const creates: Change[] = [];
  const updates: Change[] = [];
  const deletes: Change[] = [];
  for (const want of desired.roles) {
    if (!inScope(want.name)) continue;
    const have = currentByName.get(want.name);
    if (!have) {
      creates.push({ kind: 'create-role', roleName: want.name, role: want, reason: `${want.file} has no role yet` });
      continue;
    }
    if (!isManagedBy(have, desired.cluster, desired.path)) {
      plan.collisions.push({
        roleName: want.name,
        file: want.file,
        existingArn: have.arn,
        reason: `role ${have.arn} exists without this cluster's podiam tags; it is never adopted`,
      });
      continue;
    }
    const changes = planRoleChanges(want, have, partition);
    if (changes.length) updates.push(...changes);
    else plan.unchanged.push(want.name);
  }

  for (const have of current.roles) {
    if (!inScope(have.name) || desiredNames.has(have.name)) continue;
    // Only roles that carry this cluster's tags are ours to delete.
    if (!isManagedBy(have, desired.cluster, desired.path)) continue;
    deletes.push({
      kind: 'delete-role',
      roleName: have.name,
      inlinePolicyNames: Object.keys(have.inlinePolicies).sort(),
      managedPolicyArns: [...have.managedPolicyArns].sort(),
      reason: `${have.tags[MANAGED_TAG_NAMESPACE]}/${have.tags[MANAGED_TAG_SERVICE]} is no longer in the bundle`,
    });
  }

  const intermediateChanges: Change[] = [];
  if (options.scope === undefined) {
    const currentIntermediates = new Map(current.intermediates.map((i) => [i.arn, i]));
    for (const want of desired.intermediates) {
      const have = currentIntermediates.get(want.arn);
      const name = want.arn.slice(want.arn.lastIndexOf('/') + 1);
      if (!want.writable) {
        plan.notes.push(`intermediate role ${want.arn} is not one this stack manages (another account, or added by a rotation): make sure it has the inline policy ${want.policyName}`);
        continue;
      }
      if (!have || !have.exists) {
        plan.notes.push(`intermediate role ${want.arn} does not exist: it is left out of the trust policies until it does`);
        continue;
      }
      if (have.policy === undefined || !policiesEqual(want.policy, have.policy, { partition })) {
        intermediateChanges.push({
          kind: 'put-intermediate-policy',
          roleName: name,
          roleArn: want.arn,
          policyName: want.policyName,
          after: want.policy,
          reason: have.policy === undefined ? 'assume policy missing' : 'assume policy differs',
        });
      }
    }
  }

  plan.changes = [...creates, ...updates, ...intermediateChanges, ...deletes];
  return plan;
}

/** Changes that write to IAM (all of them); handy for counting in logs and tests. */
export function countByKind(changes: readonly Change[]): Partial<Record<ChangeKind, number>> {
  const out: Partial<Record<ChangeKind, number>> = {};
  for (const c of changes) out[c.kind] = (out[c.kind] ?? 0) + 1;
  return out;
}

/** One line per change, terraform-like: `+ create`, `~ update`, `- delete`. */
export function describeChange(change: Change): string {
  switch (change.kind) {
    case 'create-role':
      return `+ role ${change.roleName} (${change.role.file})`;
    case 'delete-role':
      return `- role ${change.roleName}: ${change.reason}`;
    case 'delete-inline-policy':
      return `- role ${change.roleName}: inline policy ${change.policyName}`;
    case 'detach-managed-policy':
      return `- role ${change.roleName}: managed policy ${change.policyArn}`;
    case 'attach-managed-policy':
      return `+ role ${change.roleName}: managed policy ${change.policyArn}`;
    default:
      return `~ role ${change.roleName}: ${change.kind.replace(/-/g, ' ')} (${change.reason})`;
  }
}
