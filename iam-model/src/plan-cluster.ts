/**
 * Read → build → diff for one cluster: the one sequence that both the reconcile function (which
 * then applies the plan) and `podiam plan` (which prints it) run, so the two can never disagree.
 * Read-only: only Get/List calls reach IAM.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Bundle } from './bundle/bundle.ts';
import { managedRoleName } from '../../core/src/naming.ts';
import { buildDesiredState, type DesiredState, type DesiredStateSettings } from './desired-state.ts';
import { IntermediateRolesMissingError } from './errors.ts';
import { existingIntermediateArns, readCurrentState, type ReadOptions } from './iam-reader.ts';
import { planChanges, type CurrentState, type Plan } from './plan.ts';

export interface ClusterPlanSettings extends Omit<DesiredStateSettings, 'intermediateRoleArns'> {
  /** The intermediate roles to trust (the configured ones, plus one being rotated in). */
  intermediateRoleArns: readonly string[];
  /** Only these role names (a drift event); undefined: the whole cluster. */
  scope?: readonly string[] | undefined;
  readStrategy?: ReadOptions['strategy'];
  /** Intermediate roles outside the account that may be trusted (ForeignIntermediateRoleArns). */
  foreignIntermediateArns?: readonly string[] | undefined;
}

export interface ClusterPlan {
  desired: DesiredState;
  current: CurrentState;
  plan: Plan;
}

export async function planCluster(iam: IAMClient, bundle: Bundle, settings: ClusterPlanSettings): Promise<ClusterPlan> {
  const { scope, readStrategy, intermediateRoleArns, foreignIntermediateArns, ...stateSettings } = settings;
  const managedIntermediateArns = settings.managedIntermediateArns ?? intermediateRoleArns;
  const current = await readCurrentState(iam, {
    cluster: settings.cluster,
    accountId: settings.accountId,
    intermediateRoleArns,
    managedIntermediateArns,
    ...(foreignIntermediateArns ? { foreignIntermediateArns } : {}),
    ...(scope ? { roleNames: scope } : {}),
    ...(readStrategy ? { strategy: readStrategy } : {}),
    // Desired names found elsewhere in the account are collisions, reported from this read.
    lookupNames: bundle.services.map((s) => managedRoleName({ cluster: settings.cluster, namespace: s.namespace, service: s.service })),
  });
  // IAM refuses a trust policy that names a role that does not exist.
  const trusted = existingIntermediateArns(current.intermediates);
  if (trusted.length === 0) throw new IntermediateRolesMissingError(intermediateRoleArns);
  const desired = buildDesiredState(bundle, { ...stateSettings, managedIntermediateArns, intermediateRoleArns: trusted });
  const plan = planChanges(desired, current, scope ? { scope: new Set(scope) } : {});
  return { desired, current, plan };
}
