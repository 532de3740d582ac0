/**
 * Both ends of the trust link between the node proxy's (intermediate) role and the managed
 * service roles, and IAM's session revocation policy. Pure: documents in, documents out.
 */
import { SESSION_TAG_KEYS } from '../../core/src/annotations.ts';
import type { PolicyDocument } from './bundle/bundle.ts';
import { managedRoleArnPattern, type AccountRef } from '../../core/src/naming.ts';

export const POLICY_VERSION = '2012-10-17';

/** Inline policy name of a managed role's team policy. */
export const SERVICE_POLICY_NAME = 'podiam-service-policy';
/** Inline policy name on the intermediate role(s): the other end of the trust link. */
export const INTERMEDIATE_POLICY_NAME = 'podiam-assume-managed-roles';
/** The name IAM's console uses for "Revoke active sessions"; reconcile never removes it. */
export const REVOKE_POLICY_NAME = 'AWSRevokeOlderSessions';

export interface TrustSettings {
  /** The node proxy's role ARN(s); two while it is being rotated. */
  intermediateRoleArns: readonly string[];
  /** When set, every AssumeRole must carry this sts:ExternalId. */
  externalId?: string | undefined;
}

/**
 * Trust policy of a managed role: exactly the intermediate role(s) may call sts:AssumeRole and
 * sts:TagSession (the proxy passes session tags, which needs TagSession), nothing else.
 */
export function serviceRoleTrustPolicy(settings: TrustSettings, namespace: string): PolicyDocument {
  const stringEquals: Record<string, string> = {};
  if (settings.externalId) stringEquals['sts:ExternalId'] = settings.externalId;
  // Always, with no switch: the session tag kubernetes-namespace must equal the role's namespace.
  // The proxy tags every session with the pod's namespace, so a proxy bug that mixes up pods, or
  // a role name shared with another namespace's role, cannot hand one namespace's role to another
  // namespace's pod: STS refuses the call. It does not stop a stolen intermediate credential (its
  // holder can set any tag); the trust principal and the intermediate role's policy bound that.
  stringEquals[`aws:RequestTag/${SESSION_TAG_KEYS.namespace}`] = namespace;
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'PodiamNodeProxy',
        Effect: 'Allow',
        Principal: { AWS: [...new Set(settings.intermediateRoleArns)].sort() },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: stringEquals },
      },
    ],
  };
}

/**
 * The intermediate role's side: it may assume this cluster's managed roles and nothing more.
 * The path wildcard is safe only because the path is the cluster's own (/podiam/<cluster>/),
 * and only this cluster's functions may create roles there.
 */
export function intermediateRolePolicy(account: AccountRef, cluster: string): PolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Sid: 'AssumeThisClustersManagedRoles',
        Effect: 'Allow',
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Resource: managedRoleArnPattern(account, cluster),
      },
    ],
  };
}

/**
 * What IAM's "Revoke active sessions" writes: deny everything to sessions issued before now.
 * New sessions (issued after `before`) are unaffected, so pods recover on their next refresh.
 */
export function revokeOlderSessionsPolicy(before: Date): PolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Effect: 'Deny',
        Action: ['*'],
        Resource: ['*'],
        Condition: { DateLessThan: { 'aws:TokenIssueTime': before.toISOString() } },
      },
    ],
  };
}
