/**
 * What `podiam plan` compares: the desired state built from the policies folder by the same code
 * the reconcile function runs (functions/lib: buildDesiredState, readCurrentState, planChanges),
 * against what IAM holds now. Read-only: only Get/List calls reach IAM.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Bundle } from '../../../core/src/bundle.ts';
import { buildDesiredState, type DesiredState } from '../../../functions/lib/desired-state.ts';
import { existingIntermediateArns, readCurrentState } from '../../../functions/lib/iam-reader.ts';
import { planChanges, type Plan } from '../../../functions/lib/plan.ts';
import { managedRoleName } from '../../../core/src/naming.ts';
import { CliError } from '../errors.ts';

export interface PlanSettings {
  cluster: string;
  accountId: string;
  partition?: string;
  intermediateRoleArns: readonly string[];
  permissionsBoundaryArn?: string | undefined;
  trustExternalId?: string | undefined;
}

export interface ComputedPlan {
  desired: DesiredState;
  plan: Plan;
}

export async function computePlan(iam: IAMClient, bundle: Bundle, settings: PlanSettings): Promise<ComputedPlan> {
  let current;
  try {
    // The same read as the reconcile function's (functions/lib/reconcile.ts), so plan shows what reconcile would do.
    current = await readCurrentState(iam, {
      cluster: settings.cluster,
      accountId: settings.accountId,
      intermediateRoleArns: settings.intermediateRoleArns,
      managedIntermediateArns: settings.intermediateRoleArns,
      // Desired names found elsewhere in the account are collisions, reported from this read.
      lookupNames: bundle.services.map((s) => managedRoleName({ cluster: settings.cluster, namespace: s.namespace, service: s.service })),
    });
  } catch (err: unknown) {
    const name = err instanceof Error ? err.name : 'Error';
    throw new CliError('PODIAM_PLAN_FAILED', `reading IAM failed (${name}: ${err instanceof Error ? err.message : String(err)}).`, { cause: err });
  }
  // As reconcile does: IAM refuses a trust policy naming a role that does not exist, so only
  // existing intermediate roles are trusted.
  const trusted = existingIntermediateArns(current.intermediates);
  if (trusted.length === 0) {
    throw new CliError('PODIAM_PLAN_FAILED', `none of the intermediate roles (${settings.intermediateRoleArns.join(', ')}) exists in IAM; deploy the stack first or fix --intermediate-role-arn.`);
  }
  const desired = buildDesiredState(bundle, {
    cluster: settings.cluster,
    accountId: settings.accountId,
    ...(settings.partition ? { partition: settings.partition } : {}),
    intermediateRoleArns: trusted,
    managedIntermediateArns: settings.intermediateRoleArns,
    permissionsBoundaryArn: settings.permissionsBoundaryArn,
    trustExternalId: settings.trustExternalId,
  });
  return { desired, plan: planChanges(desired, current) };
}
