/**
 * The semantic diff between the desired state and what IAM holds: a list of typed changes.
 * Pure. Reconcile applies the list; `podiam plan` prints it. A change appears only on a real
 * semantic difference, so a run with nothing to change makes zero IAM writes.
 */
import {
  MANAGED_TAG_CLUSTER,
  MANAGED_TAG_NAMESPACE,
  MANAGED_TAG_SERVICE,
  isDnsLabel,
  legacyManagedRoleName,
  managedRoleName,
  type ServiceRef,
} from '../../core/src/naming.ts';
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

/**
 * The service whose role this is, by its podiam tags: the role is under the cluster's path, tagged
 * with the cluster's name, and named as the role of the (cluster, namespace, service) its tags
 * name — in the current shape or the earlier `<cluster>-<ns>-<svc>` one (a role to migrate).
 * Undefined otherwise: such a role is never changed, adopted or deleted.
 */
export function managedRefOf(role: Pick<CurrentRole, 'name' | 'path' | 'tags'>, cluster: string, path: string): ServiceRef | undefined {
  if (role.path !== path || role.tags[MANAGED_TAG_CLUSTER] !== cluster) return undefined;
  const ref = { cluster, namespace: role.tags[MANAGED_TAG_NAMESPACE] ?? '', service: role.tags[MANAGED_TAG_SERVICE] ?? '' };
  if (!isDnsLabel(cluster) || !isDnsLabel(ref.namespace) || !isDnsLabel(ref.service)) return undefined;
  return role.name === managedRoleName(ref) || role.name === legacyManagedRoleName(ref) ? ref : undefined;
}

/** Managed by this cluster (see managedRefOf). Nothing else is ever changed or deleted. */
export function isManagedBy(role: Pick<CurrentRole, 'name' | 'path' | 'tags'>, cluster: string, path: string): boolean {
  return managedRefOf(role, cluster, path) !== undefined;
}

/**
 * Managed for exactly this service: its tags name this (cluster, namespace, service). A role of
 * the right name whose tags name another service (a shortened name matched by brute force, or a
 * hand-made role) is a collision: it is never adopted, changed or used.
 */
export function isManagedFor(role: Pick<CurrentRole, 'name' | 'path' | 'tags'>, ref: ServiceRef, path: string): boolean {
  const tagged = managedRefOf(role, ref.cluster, path);
  return tagged !== undefined && tagged.namespace === ref.namespace && tagged.service === ref.service;
}

/** A role of the earlier name shape that belongs to `ref`: reconcile replaces it with a role of the current name. */
function isLegacyRoleOf(role: Pick<CurrentRole, 'name' | 'path' | 'tags'>, ref: ServiceRef, path: string): boolean {
  return role.name !== managedRoleName(ref) && role.name === legacyManagedRoleName(ref) && isManagedFor(role, ref, path);
}

export type Change =
  /** migratesFrom: the role of the earlier name shape that this one replaces (deleted once this exists). */
  | { kind: 'create-role'; roleName: string; role: DesiredRole; reason: string; migratesFrom?: string }
  | { kind: 'update-trust'; roleName: string; before: CanonicalPolicy; after: PolicyDocument; reason: string }
  | { kind: 'put-inline-policy'; roleName: string; policyName: string; before?: CanonicalPolicy; after: PolicyDocument; reason: string }
  | { kind: 'delete-inline-policy'; roleName: string; policyName: string; reason: string }
  | { kind: 'attach-managed-policy'; roleName: string; policyArn: string; reason: string }
  | { kind: 'detach-managed-policy'; roleName: string; policyArn: string; reason: string }
  | { kind: 'tag-role'; roleName: string; tags: Record<string, string>; reason: string }
  | { kind: 'update-role'; roleName: string; maxSessionDuration: number; description: string; reason: string }
  | { kind: 'put-boundary'; roleName: string; boundaryArn: string; reason: string }
  /** replacedBy: delete only once this role exists (a migration to the current name shape). */
  | { kind: 'delete-role'; roleName: string; inlinePolicyNames: string[]; managedPolicyArns: string[]; reason: string; replacedBy?: string }
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
  const refKey = (ref: ServiceRef) => `${ref.namespace}/${ref.service}`;
  /** Services whose role (of the current name) exists as theirs, or is about to be created. */
  const replacementReady = new Set<string>();
  for (const want of desired.roles) {
    if (!inScope(want.name)) continue;
    const have = currentByName.get(want.name);
    if (!have) {
      const legacy = current.roles.find((r) => isLegacyRoleOf(r, want.ref, desired.path));
      creates.push({
        kind: 'create-role',
        roleName: want.name,
        role: want,
        ...(legacy ? { migratesFrom: legacy.name, reason: `migrates ${legacy.name} (the earlier name shape) to ${want.name}` } : { reason: `${want.file} has no role yet` }),
      });
      replacementReady.add(refKey(want.ref));
      continue;
    }
    if (!isManagedFor(have, want.ref, desired.path)) {
      const tagged = have.tags[MANAGED_TAG_CLUSTER] === desired.cluster && have.tags[MANAGED_TAG_NAMESPACE] !== undefined;
      plan.collisions.push({
        roleName: want.name,
        file: want.file,
        existingArn: have.arn,
        reason: tagged
          ? `role ${have.arn} carries podiam tags of ${have.tags[MANAGED_TAG_NAMESPACE]}/${have.tags[MANAGED_TAG_SERVICE]}, not of ${refKey(want.ref)}; it is never adopted or changed`
          : `role ${have.arn} exists without this cluster's podiam tags for ${refKey(want.ref)}; it is never adopted`,
      });
      continue;
    }
    replacementReady.add(refKey(want.ref));
    const changes = planRoleChanges(want, have, partition);
    if (changes.length) updates.push(...changes);
    else plan.unchanged.push(want.name);
  }

  const desiredByRef = new Map(desired.roles.map((r) => [refKey(r.ref), r]));
  for (const have of current.roles) {
    if (!inScope(have.name) || desiredNames.has(have.name)) continue;
    // Only roles whose podiam tags name the service they are named for are ours to delete.
    const tagged = managedRefOf(have, desired.cluster, desired.path);
    if (!tagged) {
      if (have.path === desired.path && have.tags[MANAGED_TAG_CLUSTER] === desired.cluster) {
        plan.notes.push(`role ${have.name} carries this cluster's podiam tags (${have.tags[MANAGED_TAG_NAMESPACE]}/${have.tags[MANAGED_TAG_SERVICE]}) but is not named as that service's role; it is left alone`);
      }
      continue;
    }
    const successor = desiredByRef.get(refKey(tagged));
    if (successor) {
      // The earlier name shape: delete it only after its successor exists (create-then-delete).
      if (!replacementReady.has(refKey(tagged))) {
        plan.notes.push(`role ${have.name} (the earlier name shape of ${refKey(tagged)}) is kept until ${successor.name} can be created`);
        continue;
      }
      deletes.push({
        kind: 'delete-role',
        roleName: have.name,
        inlinePolicyNames: Object.keys(have.inlinePolicies).sort(),
        managedPolicyArns: [...have.managedPolicyArns].sort(),
        reason: `migrated to ${successor.name} (the earlier name shape of ${refKey(tagged)})`,
        replacedBy: successor.name,
      });
      continue;
    }
    deletes.push({
      kind: 'delete-role',
      roleName: have.name,
      inlinePolicyNames: Object.keys(have.inlinePolicies).sort(),
      managedPolicyArns: [...have.managedPolicyArns].sort(),
      reason: `${refKey(tagged)} is no longer in the bundle`,
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
      return `+ role ${change.roleName} (${change.role.file})${change.migratesFrom ? `, migrates ${change.migratesFrom}` : ''}`;
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
