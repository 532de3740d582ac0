/**
 * What `podiam plan` compares: the desired state built from the policies folder against what IAM
 * holds now, through functions/lib/plan-cluster.ts — the very function the reconcile function
 * runs before it applies, so plan shows what reconcile would do. Read-only.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import type { DesiredState } from '../../../iam-model/src/desired-state.ts';
import { planCluster } from '../../../iam-model/src/plan-cluster.ts';
import type { CurrentState, Plan } from '../../../iam-model/src/plan.ts';
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
  /** What IAM holds now (the mass-deletion guard counts the cluster's managed roles in it). */
  current: CurrentState;
}

export async function computePlan(iam: IAMClient, bundle: Bundle, settings: PlanSettings): Promise<ComputedPlan> {
  try {
    // The functions take the boundary from the stack only, and guardrails.json names the stack's:
    // that is the preview's default (--permissions-boundary-arn for a stack that differs).
    const boundary = settings.permissionsBoundaryArn ?? bundle.guardrails.permissionsBoundaryArn;
    const { desired, plan, current } = await planCluster(iam, bundle, { ...settings, permissionsBoundaryArn: boundary });
    return { desired, plan, current };
  } catch (err: unknown) {
    if (err instanceof PodiamError && err.code === 'PODIAM_INTERMEDIATE_ROLES_MISSING') {
      throw new CliError('PODIAM_PLAN_FAILED', `none of the intermediate roles (${settings.intermediateRoleArns.join(', ')}) exists in IAM; deploy the stack first or fix --intermediate-role-arn.`, { cause: err });
    }
    if (err instanceof PodiamError) throw err;
    const name = err instanceof Error ? err.name : 'Error';
    throw new CliError('PODIAM_PLAN_FAILED', `reading IAM failed (${name}: ${err instanceof Error ? err.message : String(err)}).`, { cause: err });
  }
}
