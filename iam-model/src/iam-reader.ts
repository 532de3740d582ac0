/**
 * Reads what IAM holds for one cluster: every role under /podiam/<cluster>/ and the
 * intermediate roles' assume policy. Read-only (`podiam plan` uses it with read-only
 * credentials). Details (inline and attached policies) are read only for roles that carry this
 * cluster's tags: an unmanaged role is never ours to inspect further.
 */
import {
  GetAccountAuthorizationDetailsCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  type ListAttachedRolePoliciesCommandOutput,
  ListRolePoliciesCommand,
  ListRolesCommand,
  type IAMClient,
  type Role,
  type RoleDetail,
} from '@aws-sdk/client-iam';
import { managedRolePath, parseRoleArn } from '../../core/src/naming.ts';
import { awsErrorName, isNoSuchEntity } from './errors.ts';
import { isManagedBy, type CurrentIntermediate, type CurrentRole, type CurrentState } from './plan.ts';
import { parseIamDocument } from './policy-compare.ts';
import { mapLimit } from './retry.ts';
import { INTERMEDIATE_POLICY_NAME } from './trust.ts';

export interface ReadOptions {
  cluster: string;
  /**
   * Our own account: intermediate roles elsewhere cannot be read. One of them is taken as existing
   * only when it is in foreignIntermediateArns or managedIntermediateArns (the stack's parameters).
   */
  accountId: string;
  /** Roles outside the account the operator allowed (ForeignIntermediateRoleArns). */
  foreignIntermediateArns?: readonly string[];
  intermediateRoleArns: readonly string[];
  /** The intermediate roles whose assume policy this stack manages (the configured ones); default: all. */
  managedIntermediateArns?: readonly string[];
  /** Read only these role names (a drift event); otherwise list the whole path. */
  roleNames?: readonly string[];
  /** Parallel per-role reads; IAM's read limits are generous but not unlimited. */
  concurrency?: number;
  /**
   * How a whole cluster is read. 'bulk' (default): ListRoles on the path plus
   * GetAccountAuthorizationDetails (a handful of paginated calls instead of four per role);
   * falls back to 'per-role' when that call is denied. 'per-role': GetRole, ListRolePolicies,
   * GetRolePolicy and ListAttachedRolePolicies for each role.
   */
  strategy?: 'bulk' | 'per-role';
  /**
   * Role names to report wherever they are in the account (the desired names): a role name is
   * unique per account whatever its path, so one elsewhere is a collision to report, not a
   * CreateRole to try (and fail) on every run.
   */
  lookupNames?: readonly string[];
}

function tagsOf(role: Role): Record<string, string> {
  return Object.fromEntries((role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

/** One role with its details, or undefined when it does not exist. */
export async function readRole(iam: IAMClient, roleName: string, cluster: string): Promise<CurrentRole | undefined> {
  let role: Role | undefined;
  try {
    role = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
  } catch (err: unknown) {
    if (isNoSuchEntity(err)) return undefined;
    throw err;
  }
  if (!role?.RoleName || !role.Arn) return undefined;
  const current: CurrentRole = {
    name: role.RoleName,
    path: role.Path ?? '/',
    arn: role.Arn,
    ...(role.RoleId ? { roleId: role.RoleId } : {}),
    ...(role.Description !== undefined ? { description: role.Description } : {}),
    maxSessionDuration: role.MaxSessionDuration ?? 3600,
    ...(role.PermissionsBoundary?.PermissionsBoundaryArn ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn } : {}),
    trustPolicy: parseIamDocument(role.AssumeRolePolicyDocument),
    tags: tagsOf(role),
    inlinePolicies: {},
    managedPolicyArns: [],
  };
  if (!isManagedBy(current, cluster, managedRolePath(cluster))) return current;

  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    names.push(...(page.PolicyNames ?? []));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  for (const name of names) {
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
    current.inlinePolicies[name] = parseIamDocument(got.PolicyDocument);
  }
  marker = undefined;
  do {
    const page: ListAttachedRolePoliciesCommandOutput = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    current.managedPolicyArns.push(...(page.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? '').filter(Boolean));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return current;
}

/** Names of every role under the cluster's path. */
export async function listRoleNames(iam: IAMClient, cluster: string): Promise<string[]> {
  const path = managedRolePath(cluster);
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolesCommand({ PathPrefix: path, Marker: marker, MaxItems: 1000 }));
    // PathPrefix is a prefix: /podiam/prod/ would not match /podiam/prod-eu/, but a nested path could exist.
    names.push(...(page.Roles ?? []).filter((r) => r.Path === path).map((r) => r.RoleName ?? '').filter(Boolean));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return names.sort();
}

export async function readIntermediates(
  iam: IAMClient,
  arns: readonly string[],
  accountId: string,
  /** Read the assume policy only of these (the stack's own intermediate roles); default: all. */
  policyArns?: ReadonlySet<string>,
  /**
   * Roles outside the account that count as existing (IAM cannot be asked about them): only
   * these. Any other foreign ARN is reported missing, so no trust policy ever names it, whoever
   * put it into the list (a rotate request, the rotation state object).
   */
  foreignAllowed: ReadonlySet<string> = new Set(),
): Promise<CurrentIntermediate[]> {
  return mapLimit([...new Set(arns)].sort(), 4, async (arn) => {
    const parsed = parseRoleArn(arn);
    if (!parsed) return { arn, exists: false };
    if (parsed.accountId !== accountId) return { arn, exists: foreignAllowed.has(arn) };
    try {
      await iam.send(new GetRoleCommand({ RoleName: parsed.name }));
    } catch (err: unknown) {
      if (isNoSuchEntity(err)) return { arn, exists: false };
      throw err;
    }
    if (policyArns && !policyArns.has(arn)) return { arn, exists: true };
    try {
      const got = await iam.send(new GetRolePolicyCommand({ RoleName: parsed.name, PolicyName: INTERMEDIATE_POLICY_NAME }));
      return { arn, exists: true, policy: parseIamDocument(got.PolicyDocument) };
    } catch (err: unknown) {
      if (isNoSuchEntity(err)) return { arn, exists: true };
      throw err;
    }
  });
}

/** Every role under the cluster's path as ListRoles gives it (trust, description, MaxSessionDuration; no tags). */
async function listRoles(iam: IAMClient, cluster: string): Promise<Role[]> {
  const path = managedRolePath(cluster);
  const roles: Role[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolesCommand({ PathPrefix: path, Marker: marker, MaxItems: 1000 }));
    roles.push(...(page.Roles ?? []).filter((r) => r.Path === path && r.RoleName));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return roles;
}

/** Every role of the account with its tags, boundary, inline and attached policies, in pages of 1000. */
async function roleDetails(iam: IAMClient): Promise<Map<string, RoleDetail>> {
  const out = new Map<string, RoleDetail>();
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'], Marker: marker, MaxItems: 1000 }));
    for (const r of page.RoleDetailList ?? []) if (r.RoleName) out.set(r.RoleName, r);
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker && ++pages < 10_000);
  return out;
}

function fromListAndDetail(listed: Role, detail: RoleDetail, cluster: string): CurrentRole {
  const role: CurrentRole = {
    name: listed.RoleName!,
    path: listed.Path ?? '/',
    arn: listed.Arn ?? detail.Arn ?? '',
    ...(listed.RoleId ? { roleId: listed.RoleId } : {}),
    ...(listed.Description !== undefined ? { description: listed.Description } : {}),
    maxSessionDuration: listed.MaxSessionDuration ?? 3600,
    ...(detail.PermissionsBoundary?.PermissionsBoundaryArn ? { permissionsBoundaryArn: detail.PermissionsBoundary.PermissionsBoundaryArn } : {}),
    trustPolicy: parseIamDocument(detail.AssumeRolePolicyDocument ?? listed.AssumeRolePolicyDocument),
    tags: Object.fromEntries((detail.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    inlinePolicies: {},
    managedPolicyArns: [],
  };
  if (!isManagedBy(role, cluster, managedRolePath(cluster))) return role;
  for (const p of detail.RolePolicyList ?? []) if (p.PolicyName) role.inlinePolicies[p.PolicyName] = parseIamDocument(p.PolicyDocument);
  role.managedPolicyArns = (detail.AttachedManagedPolicies ?? []).map((p) => p.PolicyArn ?? '').filter(Boolean);
  return role;
}

async function readClusterBulk(iam: IAMClient, options: ReadOptions): Promise<CurrentRole[] | undefined> {
  let details: Map<string, RoleDetail>;
  let listed: Role[];
  try {
    [listed, details] = await Promise.all([listRoles(iam, options.cluster), roleDetails(iam)]);
  } catch (err: unknown) {
    if (awsErrorName(err) === 'AccessDenied' || awsErrorName(err) === 'AccessDeniedException') return undefined;
    throw err;
  }
  const seen = new Set(listed.map((r) => r.RoleName!));
  for (const name of options.lookupNames ?? []) {
    const elsewhere = details.get(name);
    if (!seen.has(name) && elsewhere) listed.push({ RoleName: name, Path: elsewhere.Path, Arn: elsewhere.Arn, RoleId: elsewhere.RoleId, CreateDate: elsewhere.CreateDate });
  }
  // A role created between the two calls has no detail yet: read it on its own.
  return mapLimit(listed, options.concurrency ?? 8, async (r) => {
    const detail = details.get(r.RoleName!);
    return detail ? fromListAndDetail(r, detail, options.cluster) : readRole(iam, r.RoleName!, options.cluster);
  }).then((roles) => roles.filter((r): r is CurrentRole => r !== undefined));
}

/** The whole current state of one cluster (or of the named roles only). */
export async function readCurrentState(iam: IAMClient, options: ReadOptions): Promise<CurrentState> {
  const foreignAllowed = new Set([...(options.managedIntermediateArns ?? options.intermediateRoleArns), ...(options.foreignIntermediateArns ?? [])]);
  const intermediatesRead = readIntermediates(iam, options.intermediateRoleArns, options.accountId, options.managedIntermediateArns ? new Set(options.managedIntermediateArns) : undefined, foreignAllowed);
  // Awaited only at the end: if reading the roles fails first, this rejection must not go
  // unhandled (Node would end the process); the await below still sees it.
  intermediatesRead.catch(() => undefined);
  let roles: CurrentRole[] | undefined;
  if (!options.roleNames && (options.strategy ?? 'bulk') === 'bulk') roles = await readClusterBulk(iam, options);
  if (!roles) {
    let names = options.roleNames ? [...new Set(options.roleNames)].sort() : await listRoleNames(iam, options.cluster);
    if (!options.roleNames) names = [...new Set([...names, ...(options.lookupNames ?? [])])];
    const read = await mapLimit(names, options.concurrency ?? 8, (name) => readRole(iam, name, options.cluster));
    roles = read.filter((r): r is CurrentRole => r !== undefined);
  }
  return { roles: roles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), intermediates: await intermediatesRead };
}

/** The configured intermediate ARNs that exist (or cannot be checked): the only ones a trust policy may name. */
export function existingIntermediateArns(intermediates: readonly CurrentIntermediate[]): string[] {
  return intermediates.filter((i) => i.exists).map((i) => i.arn);
}
