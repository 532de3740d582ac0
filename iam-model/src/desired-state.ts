/**
 * The desired state: what IAM should hold for one cluster, built from the published bundle and
 * the stack's settings. Pure, so `podiam plan` (cli/) and the reconcile and admission functions
 * build exactly the same roles.
 */
import type { Bundle, PolicyDocument, ServicePolicy } from './bundle/bundle.ts';
import {
  MANAGED_TAG_CLUSTER,
  MANAGED_TAG_NAMESPACE,
  MANAGED_TAG_SERVICE,
  managedRoleArn,
  managedRoleName,
  managedRolePath,
  parseRoleArn,
  type AccountRef,
  type ServiceRef,
} from '../../core/src/naming.ts';
import { BoundaryMismatchError, BundleError, ManagedPolicyNotAllowedError } from './errors.ts';
import {
  INTERMEDIATE_POLICY_NAME,
  POLICY_VERSION,
  SERVICE_POLICY_NAME,
  intermediateRolePolicy,
  serviceRoleTrustPolicy,
  type TrustSettings,
} from './trust.ts';

/** IAM's range for a role's MaxSessionDuration. */
export const MIN_MAX_SESSION_SECONDS = 3600;
export const MAX_MAX_SESSION_SECONDS = 43200;
export const DEFAULT_MAX_SESSION_SECONDS = 3600;

export interface DesiredStateSettings {
  cluster: string;
  accountId: string;
  partition?: string;
  /** The intermediate role ARNs to trust; give only the ones that exist (IAM refuses others). */
  intermediateRoleArns: readonly string[];
  /**
   * The intermediate roles whose assume policy this stack writes (its parameters); default: all
   * of intermediateRoleArns. A role added by a rotation must come with the policy already.
   */
  managedIntermediateArns?: readonly string[];
  /**
   * The stack's boundary, the only one a role ever gets. A bundle's guardrails may name a boundary
   * (for `podiam check`) but never set one: one that differs from this is refused.
   */
  permissionsBoundaryArn?: string | undefined;
  /**
   * The managed policies a bundle may attach (the stack's allowlist). A bundle attaching any other
   * is refused whole. Undefined: not checked here (a `podiam plan` preview); the functions always
   * pass the stack's list, empty when it names none.
   */
  attachableManagedPolicyArns?: readonly string[] | undefined;
  trustExternalId?: string | undefined;
}

export interface DesiredRole {
  ref: ServiceRef;
  name: string;
  path: string;
  arn: string;
  /** policies/<ns>/<svc>.json, for messages. */
  file: string;
  description: string;
  maxSessionDuration: number;
  permissionsBoundaryArn?: string;
  trustPolicy: PolicyDocument;
  inlinePolicyName: string;
  inlinePolicy: PolicyDocument;
  /** Sorted, unique. */
  managedPolicyArns: string[];
  tags: Record<string, string>;
}

export interface DesiredIntermediate {
  arn: string;
  /** False for a role in another account or not among managedIntermediateArns: this stack does not write its policy. */
  writable: boolean;
  policyName: string;
  policy: PolicyDocument;
}

export interface DesiredState {
  cluster: string;
  path: string;
  account: Required<AccountRef>;
  bundleHash: string;
  /** Sorted by role name. */
  roles: DesiredRole[];
  intermediates: DesiredIntermediate[];
}

/** IAM's Description allows only these characters, up to 1000 of them. */
function roleDescription(svc: ServicePolicy): string {
  const text = svc.description?.trim() || `podiam: ${svc.namespace}/${svc.service} (${svc.file})`;
  return text.replace(/[^\t\n\r\x20-\x7e\xa1-\xff]/g, '?').slice(0, 1000);
}

/**
 * The team's document as written, with an explicit Version: without one IAM applies
 * 2008-10-17, where policy variables are not substituted; `podiam check` flags a missing Version.
 */
function teamPolicy(svc: ServicePolicy): PolicyDocument {
  return { ...svc.policy, Version: svc.policy.Version ?? POLICY_VERSION };
}

/**
 * The boundary comes from the stack only: whoever can write the bundle must not be able to pick
 * (or drop) the boundary of the roles it defines. A bundle whose guardrails name another boundary
 * (or one where the stack has none) was checked against rules that do not hold here: refused.
 */
export function effectiveBoundary(settings: DesiredStateSettings, bundle: Bundle): string | undefined {
  const configured = settings.permissionsBoundaryArn?.trim() || undefined;
  const bundled = bundle.guardrails?.permissionsBoundaryArn?.trim() || undefined;
  if (bundled && configured !== bundled) throw new BoundaryMismatchError(configured, bundled);
  return configured;
}

/** Refuses the whole bundle when a service attaches a managed policy outside the stack's allowlist. */
export function checkAttachable(bundle: Bundle, allowed: readonly string[] | undefined): void {
  if (allowed === undefined) return;
  const ok = new Set(allowed);
  const refused = bundle.services.flatMap((s) => (s.managedPolicyArns ?? []).filter((arn) => !ok.has(arn)).map((arn) => `${s.file}: ${arn}`));
  if (refused.length) throw new ManagedPolicyNotAllowedError(refused, allowed);
}

export function desiredRoleFor(svc: ServicePolicy, settings: DesiredStateSettings, boundary: string | undefined): DesiredRole {
  const account = { accountId: settings.accountId, partition: settings.partition ?? 'aws' };
  const ref: ServiceRef = { cluster: settings.cluster, namespace: svc.namespace, service: svc.service };
  const max = svc.maxSessionDuration ?? DEFAULT_MAX_SESSION_SECONDS;
  if (!Number.isInteger(max) || max < MIN_MAX_SESSION_SECONDS || max > MAX_MAX_SESSION_SECONDS) {
    throw new BundleError(
      'PODIAM_BUNDLE_INVALID',
      `${svc.file}: maxSessionDuration ${max} is outside IAM's range ${MIN_MAX_SESSION_SECONDS}-${MAX_MAX_SESSION_SECONDS}; fix the file and publish again.`,
    );
  }
  const trust: TrustSettings = {
    intermediateRoleArns: settings.intermediateRoleArns,
    externalId: settings.trustExternalId,
  };
  return {
    ref,
    name: managedRoleName(ref),
    path: managedRolePath(settings.cluster),
    arn: managedRoleArn(account, ref),
    file: svc.file,
    description: roleDescription(svc),
    maxSessionDuration: max,
    ...(boundary ? { permissionsBoundaryArn: boundary } : {}),
    trustPolicy: serviceRoleTrustPolicy(trust, svc.namespace),
    inlinePolicyName: SERVICE_POLICY_NAME,
    inlinePolicy: teamPolicy(svc),
    managedPolicyArns: [...new Set(svc.managedPolicyArns ?? [])].sort(),
    tags: {
      [MANAGED_TAG_CLUSTER]: settings.cluster,
      [MANAGED_TAG_NAMESPACE]: svc.namespace,
      [MANAGED_TAG_SERVICE]: svc.service,
    },
  };
}

/** Builds every managed role of the cluster and the intermediate roles' policy. Throws BundleError on a bundle it cannot use. */
export function buildDesiredState(bundle: Bundle, settings: DesiredStateSettings): DesiredState {
  const account = { accountId: settings.accountId, partition: settings.partition ?? 'aws' };
  const boundary = effectiveBoundary(settings, bundle);
  checkAttachable(bundle, settings.attachableManagedPolicyArns);
  const roles: DesiredRole[] = [];
  const byName = new Map<string, DesiredRole>();
  for (const svc of bundle.services) {
    const role = desiredRoleFor(svc, settings, boundary);
    const clash = byName.get(role.name);
    if (clash) {
      throw new BundleError('PODIAM_BUNDLE_INVALID', `${svc.file} and ${clash.file} both map to role name ${role.name}; rename one of the services.`);
    }
    byName.set(role.name, role);
    roles.push(role);
  }
  roles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const policy = intermediateRolePolicy(account, settings.cluster);
  const managed = new Set(settings.managedIntermediateArns ?? settings.intermediateRoleArns);
  const intermediates = [...new Set(settings.intermediateRoleArns)].sort().map((arn) => {
    const parsed = parseRoleArn(arn);
    return {
      arn,
      writable: managed.has(arn) && parsed !== undefined && parsed.accountId === account.accountId && parsed.partition === account.partition,
      policyName: INTERMEDIATE_POLICY_NAME,
      policy,
    };
  });
  return { cluster: settings.cluster, path: managedRolePath(settings.cluster), account, bundleHash: bundle.hash, roles, intermediates };
}

/** The desired role of one service, or undefined when the bundle has no file for it. */
export function findDesiredRole(state: DesiredState, namespace: string, service: string): DesiredRole | undefined {
  return state.roles.find((r) => r.ref.namespace === namespace && r.ref.service === service);
}
