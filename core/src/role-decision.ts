/**
 * Which IAM role may a pod have? Pure: pod + namespace + cluster settings in, a Decision out.
 * The proxy (before AssumeRole) and the admission function (before a pod is stored) both call
 * decideRole, so a pod that is admitted is a pod the proxy will serve, and vice versa.
 */
import {
  ALLOWED_ROLES_ANNOTATION,
  EXTERNAL_ID_ANNOTATION,
  MAX_CHAINED_SESSION_SECONDS,
  MIN_SESSION_SECONDS,
  PERMITTED_ANNOTATION,
  ROLE_ANNOTATION,
  SESSION_TTL_ANNOTATION,
} from './annotations.ts';
import type { ErrorCode } from './errors.ts';
import { cachedLinear, MAX_INPUT_LENGTH, PatternTooCostlyError, UnsupportedPatternError, type LinearRegExp } from './linear-regexp.ts';
import { isDnsLabel, managedRoleArn, managedRoleName, managedRolePath, parseRoleArn, roleArn, type ParsedRoleArn } from './naming.ts';

export interface PodFacts {
  namespace: string;
  name: string;
  annotations?: Record<string, string> | undefined;
}

export interface NamespaceFacts {
  name: string;
  annotations?: Record<string, string> | undefined;
}

export interface ClusterSettings {
  cluster: string;
  accountId: string;
  partition?: string;
  /** Accounts (besides our own) whose role ARNs a permitted namespace may name. */
  allowedAccounts?: readonly string[];
  /** Used for pods without a role annotation; off when undefined. Goes through every rule. */
  defaultRole?: string | undefined;
}

export interface GrantedRole {
  arn: string;
  name: string;
  path: string;
  /** The pod's service when the role is a managed role of its namespace. */
  service?: string;
}

export type RoleDecision =
  | { kind: 'none'; reason: string }
  | {
      kind: 'allow';
      role: GrantedRole;
      externalId?: string;
      sessionSeconds?: number;
      /** Why it is allowed, for logs and tests. */
      reason: string;
      /** Where the role came from: the annotation or the configured default role. */
      source: 'annotation' | 'default';
    }
  | { kind: 'deny'; code: ErrorCode; reason: string; requested: string };

function deny(code: ErrorCode, requested: string, reason: string): RoleDecision {
  return { kind: 'deny', code, requested, reason };
}

/** kube2iam's glob: '*' matches any run of characters, everything else is literal. */
export function globMatches(glob: string, value: string): boolean {
  const pattern = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(value);
}

export interface NamespacePermissions {
  allowedRoles: string[];
  permitted?: LinearRegExp;
}

/**
 * Parses the namespace's widening annotations; a malformed one is a denial, not a silent allow-all.
 * Exported so that anything else that reads these annotations (a webhook for Namespaces, a CI
 * check) refuses exactly what the proxy refuses.
 */
export function namespacePermissions(ns: NamespaceFacts): NamespacePermissions | { error: string } {
  const annotations = ns.annotations ?? {};
  const out: NamespacePermissions = { allowedRoles: [] };
  const allowed = annotations[ALLOWED_ROLES_ANNOTATION];
  if (allowed !== undefined && allowed.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(allowed);
    } catch {
      return { error: `namespace ${ns.name}: ${ALLOWED_ROLES_ANNOTATION} is not valid JSON` };
    }
    if (!Array.isArray(parsed) || !parsed.every((g): g is string => typeof g === 'string')) {
      return { error: `namespace ${ns.name}: ${ALLOWED_ROLES_ANNOTATION} must be a JSON array of strings` };
    }
    out.allowedRoles = parsed;
  }
  const permitted = annotations[PERMITTED_ANNOTATION];
  if (permitted !== undefined && permitted.trim() !== '') {
    // Never `new RegExp(permitted)`: whoever may annotate a namespace could then hold the proxy's
    // event loop for seconds per decision with a backtracking pattern such as (a|aa)+. The linear
    // matcher costs at most input length × pattern size, and refuses what it does not support.
    // It matches the whole value on purpose: kiam matched unanchored, so 'reader' also allowed
    // 'not-a-reader-admin'.
    const compiled = cachedLinear(permitted);
    if (compiled instanceof UnsupportedPatternError) {
      return { error: `namespace ${ns.name}: ${PERMITTED_ANNOTATION} is not a regular expression podiam accepts: ${compiled.message}` };
    }
    out.permitted = compiled;
  }
  return out;
}

/** True, false, or (only for a permitted regexp too costly on this role) the reason it cannot answer. */
function permittedByNamespace(perms: NamespacePermissions, written: string, arn: ParsedRoleArn): boolean | { error: string } {
  const roleWithPath = `${arn.path.slice(1)}${arn.name}`;
  const candidates = [...new Set([written, arn.arn, roleWithPath])];
  if (perms.allowedRoles.some((glob) => candidates.some((c) => globMatches(glob, c)))) return true;
  if (perms.permitted === undefined) return false;
  try {
    return candidates.some((c) => perms.permitted!.test(c));
  } catch (err: unknown) {
    if (err instanceof PatternTooCostlyError) return { error: `${PERMITTED_ANNOTATION}: ${err.message}` };
    throw err;
  }
}

/**
 * IAM role names are unique in an account whatever their path, so in our own account a role named
 * `<cluster>.…` is a managed role (or one squatting a managed name). Asked for under any other
 * path, it must not pass as "a role the namespace permits": with allowed-roles ["*"] that would
 * reach another namespace's role by name.
 */
function claimsManagedName(arn: ParsedRoleArn, settings: ClusterSettings, partition: string): boolean {
  return arn.accountId === settings.accountId && arn.partition === partition && arn.name.startsWith(`${settings.cluster}.`);
}

/** Parses '900', '900s', '15m', '1h', '1h30m' into seconds; undefined when malformed. */
export function parseDurationSeconds(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t);
  if (!m || t === '') return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/**
 * The rules, in order:
 * 1. No annotation: the default role if configured (same rules), else no role.
 * 2. A bare name is the namespace's own managed service role — unless the namespace's annotations
 *    permit the same-account role of that name, which is what kube2iam manifests mean.
 * 3. A full ARN of this namespace's managed role is allowed; other podiam-managed paths never are.
 * 4. Any other ARN needs the namespace's allowed-roles or permitted annotation, and an account
 *    that is ours or on the allowlist.
 */
export function decideRole(pod: PodFacts, ns: NamespaceFacts, settings: ClusterSettings): RoleDecision {
  const annotations = pod.annotations ?? {};
  const annotated = annotations[ROLE_ANNOTATION]?.trim();
  const source = annotated ? 'annotation' : 'default';
  const requested = annotated || settings.defaultRole?.trim();
  if (!requested) return { kind: 'none', reason: `pod ${pod.namespace}/${pod.name} has no ${ROLE_ANNOTATION} annotation and no default role is set` };
  // IAM allows 512 characters of path and 64 of name: no role ARN comes near this, and the
  // namespace's patterns are never run on more.
  if (requested.length > MAX_INPUT_LENGTH) {
    return deny('PODIAM_ROLE_ANNOTATION_INVALID', requested.slice(0, 100), `${ROLE_ANNOTATION} is ${requested.length} characters long; no IAM role ARN is longer than ${MAX_INPUT_LENGTH}`);
  }

  let sessionSeconds: number | undefined;
  const ttl = annotations[SESSION_TTL_ANNOTATION];
  if (ttl !== undefined && ttl.trim() !== '') {
    const secs = parseDurationSeconds(ttl);
    if (secs === undefined || secs < MIN_SESSION_SECONDS) {
      return deny('PODIAM_SESSION_TTL_INVALID', requested, `${SESSION_TTL_ANNOTATION} '${ttl}' must be a duration of at least ${MIN_SESSION_SECONDS}s`);
    }
    // Role chaining (the proxy's role assuming the pod's) caps sessions at one hour.
    sessionSeconds = Math.min(secs, MAX_CHAINED_SESSION_SECONDS);
  }
  const externalId = annotations[EXTERNAL_ID_ANNOTATION]?.trim() || undefined;

  const perms = namespacePermissions(ns);
  if ('error' in perms) return deny('PODIAM_NAMESPACE_ANNOTATION_INVALID', requested, perms.error);

  const account = { accountId: settings.accountId, partition: settings.partition ?? 'aws' };
  const ownPath = managedRolePath(settings.cluster);
  const allow = (role: GrantedRole, reason: string): RoleDecision => ({
    kind: 'allow',
    role,
    reason,
    source,
    ...(externalId !== undefined ? { externalId } : {}),
    ...(sessionSeconds !== undefined ? { sessionSeconds } : {}),
  });

  if (!requested.startsWith('arn:')) {
    // kube2iam resolves a bare 'path/to/name' to arn:...:role/path/to/name in the node's account.
    const cut = requested.lastIndexOf('/') + 1;
    const plain = parseRoleArn(roleArn(account, `/${requested.slice(0, cut)}`, requested.slice(cut)));
    if (plain && claimsManagedName(plain, settings, account.partition)) {
      return deny('PODIAM_ROLE_OF_OTHER_NAMESPACE', requested, `${plain.arn} has the name of a podiam-managed role of cluster ${settings.cluster} outside its path; ask for the namespace's own service by name`);
    }
    const permitted = plain && !plain.path.startsWith('/podiam/') ? permittedByNamespace(perms, requested, plain) : false;
    if (typeof permitted === 'object') return deny('PODIAM_NAMESPACE_ANNOTATION_INVALID', requested, `namespace ${ns.name}: ${permitted.error}`);
    if (plain && permitted) {
      return allow({ arn: plain.arn, name: plain.name, path: plain.path }, `namespace ${ns.name} permits ${requested} (kube2iam-style bare name)`);
    }
    if (!isDnsLabel(requested)) {
      return deny('PODIAM_ROLE_ANNOTATION_INVALID', requested, `'${requested}' is neither a service name (DNS-1123 label) nor a role the namespace permits`);
    }
    const ref = { cluster: settings.cluster, namespace: pod.namespace, service: requested };
    return allow(
      { arn: managedRoleArn(account, ref), name: managedRoleName(ref), path: ownPath, service: requested },
      `'${requested}' is the namespace's own service role`,
    );
  }

  const arn = parseRoleArn(requested);
  if (!arn) return deny('PODIAM_ROLE_ANNOTATION_INVALID', requested, `'${requested}' is not an IAM role ARN`);

  if (arn.path.startsWith('/podiam/')) {
    const ownAccount = arn.accountId === settings.accountId && arn.partition === account.partition;
    const prefix = `${settings.cluster}.${pod.namespace}.`;
    if (ownAccount && arn.path === ownPath && arn.name.startsWith(prefix)) {
      const service = arn.name.slice(prefix.length);
      // Only names that the naming function really produces for this namespace; a hashed
      // (truncated) name cannot be inverted, so such roles must be requested by service name.
      if (isDnsLabel(service) && managedRoleName({ cluster: settings.cluster, namespace: pod.namespace, service }) === arn.name) {
        return allow({ arn: arn.arn, name: arn.name, path: arn.path, service }, `${arn.arn} is the namespace's own service role`);
      }
    }
    return deny('PODIAM_ROLE_OF_OTHER_NAMESPACE', requested, `${arn.arn} is a podiam-managed role that does not belong to namespace ${pod.namespace} of cluster ${settings.cluster}`);
  }

  if (claimsManagedName(arn, settings, account.partition)) {
    return deny('PODIAM_ROLE_OF_OTHER_NAMESPACE', requested, `${arn.arn} has the name of a podiam-managed role of cluster ${settings.cluster} outside its path /podiam/${settings.cluster}/`);
  }
  const permitted = permittedByNamespace(perms, requested, arn);
  if (typeof permitted === 'object') return deny('PODIAM_NAMESPACE_ANNOTATION_INVALID', requested, `namespace ${ns.name}: ${permitted.error}`);
  if (!permitted) {
    return deny('PODIAM_ROLE_NOT_PERMITTED', requested, `namespace ${ns.name} does not permit ${arn.arn} (no matching ${ALLOWED_ROLES_ANNOTATION} glob or ${PERMITTED_ANNOTATION} regexp)`);
  }
  if (arn.accountId !== settings.accountId && !(settings.allowedAccounts ?? []).includes(arn.accountId)) {
    return deny('PODIAM_ACCOUNT_NOT_ALLOWED', requested, `account ${arn.accountId} of ${arn.arn} is not on the allowed accounts list`);
  }
  return allow({ arn: arn.arn, name: arn.name, path: arn.path }, `namespace ${ns.name} permits ${arn.arn}`);
}
