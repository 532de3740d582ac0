/**
 * What `podiam uninstall` removes from IAM, and what it leaves alone with the reason. Pure: the
 * CLI reads the current state (iam-reader.ts), asks this, prints it, and applies it only on --yes.
 *
 * Only what podiam itself made is ever listed for removal: a role that managedRefOf calls this
 * cluster's (its path, its podiam:* tags and its name agree), and the intermediate roles' one
 * podiam inline policy — never an intermediate role itself: the node role belongs to the user.
 */
import { MANAGED_TAG_CLUSTER, MANAGED_TAG_NAMESPACE, MANAGED_TAG_SERVICE, managedRolePath, parseRoleArn, type ServiceRef } from '../../core/src/naming.ts';
import { managedRefOf, type CurrentState } from './plan.ts';
import { INTERMEDIATE_POLICY_NAME } from './trust.ts';

export interface RoleToDelete {
  name: string;
  arn: string;
  ref: ServiceRef;
  /** Emptied before DeleteRole (AWSRevokeOlderSessions included). */
  inlinePolicyNames: string[];
  managedPolicyArns: string[];
}

export interface IntermediatePolicyToRemove {
  /** The node role; it stays. */
  roleName: string;
  arn: string;
  policyName: string;
}

export interface LeftAlone {
  /** A role name, or an intermediate role's ARN. */
  name: string;
  reason: string;
}

export interface UninstallPlan {
  cluster: string;
  path: string;
  roles: RoleToDelete[];
  intermediatePolicies: IntermediatePolicyToRemove[];
  leftAlone: LeftAlone[];
}

/** Why a role under the cluster's path is not podiam's to delete. */
function whyNotManaged(tags: Record<string, string>, cluster: string): string {
  const tagged = tags[MANAGED_TAG_CLUSTER];
  if (tagged === undefined) return `no ${MANAGED_TAG_CLUSTER} tag: podiam did not create it`;
  if (tagged !== cluster) return `tagged ${MANAGED_TAG_CLUSTER}=${tagged}, not ${cluster}`;
  const ns = tags[MANAGED_TAG_NAMESPACE];
  const svc = tags[MANAGED_TAG_SERVICE];
  if (!ns || !svc) return `no ${MANAGED_TAG_NAMESPACE}/${MANAGED_TAG_SERVICE} tags: podiam did not create it`;
  return `its name is not the role name of ${ns}/${svc}, which its tags name: podiam did not create it`;
}

export function planUninstall(current: CurrentState, cluster: string, accountId: string): UninstallPlan {
  const path = managedRolePath(cluster);
  const plan: UninstallPlan = { cluster, path, roles: [], intermediatePolicies: [], leftAlone: [] };
  for (const role of current.roles) {
    // The one test of ownership reconcile also uses: path, cluster tag, namespace/service tags and
    // a name that is exactly that service's role name. Loosen it and someone else's role goes.
    const ref = managedRefOf(role, cluster, path);
    if (ref === undefined) {
      plan.leftAlone.push({ name: role.name, reason: role.path !== path ? `path ${role.path}, not ${path}` : whyNotManaged(role.tags, cluster) });
      continue;
    }
    plan.roles.push({ name: role.name, arn: role.arn, ref, inlinePolicyNames: Object.keys(role.inlinePolicies).sort(), managedPolicyArns: [...role.managedPolicyArns].sort() });
  }
  for (const im of current.intermediates) {
    const parsed = parseRoleArn(im.arn);
    if (!parsed) {
      plan.leftAlone.push({ name: im.arn, reason: 'not an IAM role ARN' });
    } else if (parsed.accountId !== accountId) {
      plan.leftAlone.push({ name: im.arn, reason: `in account ${parsed.accountId}, not ${accountId}: remove its ${INTERMEDIATE_POLICY_NAME} policy with that account's credentials` });
    } else if (!im.exists) {
      plan.leftAlone.push({ name: im.arn, reason: 'the role does not exist' });
    } else if (im.policy === undefined) {
      plan.leftAlone.push({ name: im.arn, reason: `has no ${INTERMEDIATE_POLICY_NAME} policy: nothing to remove` });
    } else if (!JSON.stringify(im.policy).includes(`:role${path}`)) {
      // The same policy name written for another cluster (a node role shared by two clusters):
      // that cluster still needs it.
      plan.leftAlone.push({ name: im.arn, reason: `its ${INTERMEDIATE_POLICY_NAME} policy is not for ${path} roles` });
    } else {
      plan.intermediatePolicies.push({ roleName: parsed.name, arn: im.arn, policyName: INTERMEDIATE_POLICY_NAME });
    }
  }
  plan.roles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return plan;
}
