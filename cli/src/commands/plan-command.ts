/** `podiam plan [DIR]`: what publishing DIR would change in IAM for this cluster. Read-only. */
import { CliError, UsageError } from '../errors.ts';
import { computePlan } from '../plan/compute-plan.ts';
import { renderPlanHuman, renderPlanJson } from '../plan/render-plan.ts';
import { callerAccount, iamClient, type AwsOptions } from './aws-clients.ts';
import type { Env } from './options.ts';
import { checkedBundle } from './publish-command.ts';
import { checkDeletions, DEFAULT_DELETION_LIMITS, deletionsOf, managedRoleCount, MassDeletionRefusedError, type DeletionLimits } from '../../../iam-model/src/deletion-guard.ts';

export interface PlanCommandOptions {
  dir: string;
  cluster: string;
  guardrailsFile?: string | undefined;
  json: boolean;
  accountId?: string | undefined;
  intermediateRoleArns: string[];
  externalId?: string | undefined;
  permissionsBoundaryArn?: string | undefined;
  /** As `podiam publish --acknowledge-deletions`: plan the bundle that publish would write. */
  acknowledgeDeletions?: number | undefined;
  /** The stack's MaxRoleDeletions / MaxRoleDeletionPercent; unset: $PODIAM_MAX_ROLE_DELETIONS, $PODIAM_MAX_ROLE_DELETION_PERCENT, else 10 and 25. */
  deletionLimits?: Partial<DeletionLimits> | undefined;
  aws: AwsOptions;
}

function limitFrom(value: number | undefined, env: string | undefined, name: string, fallback: number, max: number): number {
  const v = value ?? (env === undefined || env === '' ? fallback : Number(env));
  if (!Number.isInteger(v) || v < 0 || v > max) throw new UsageError(`${name} '${String(value ?? env)}' is not a whole number from 0 to ${max}.`);
  return v;
}

async function accountOf(aws: AwsOptions, env: Env): Promise<string> {
  return callerAccount(aws, env).catch((err: unknown) => {
    throw new CliError('PODIAM_PLAN_FAILED', `cannot tell the AWS account (${err instanceof Error ? err.message : String(err)}); pass --account-id or set AWS credentials.`, { cause: err });
  });
}

export async function runPlan(opts: PlanCommandOptions, io: { stdout: (t: string) => void; env: Env }): Promise<number> {
  if (opts.intermediateRoleArns.length === 0) {
    throw new UsageError('give the node proxy role ARN(s) with --intermediate-role-arn (or PODIAM_INTERMEDIATE_ROLE_ARNS, comma-separated).');
  }
  if (opts.accountId !== undefined && !/^\d{12}$/.test(opts.accountId)) throw new UsageError(`--account-id '${opts.accountId}' is not a 12-digit account id.`);
  const bundle = checkedBundle(opts, io.stdout);
  const accountId = opts.accountId ?? (await accountOf(opts.aws, io.env));
  const iam = iamClient(opts.aws, io.env);
  try {
    const { desired, plan, current } = await computePlan(iam, bundle, {
      cluster: opts.cluster,
      accountId,
      intermediateRoleArns: opts.intermediateRoleArns,
      permissionsBoundaryArn: opts.permissionsBoundaryArn,
      trustExternalId: opts.externalId,
    });
    io.stdout(opts.json ? renderPlanJson(desired, plan) : renderPlanHuman(desired, plan));
    // The reconcile function's own guard, with the stack's limits: the refusal it would log.
    const limits: DeletionLimits = {
      maxRoleDeletions: limitFrom(opts.deletionLimits?.maxRoleDeletions, io.env.PODIAM_MAX_ROLE_DELETIONS, 'the role deletion limit', DEFAULT_DELETION_LIMITS.maxRoleDeletions, 100000),
      maxRoleDeletionPercent: limitFrom(opts.deletionLimits?.maxRoleDeletionPercent, io.env.PODIAM_MAX_ROLE_DELETION_PERCENT, 'the role deletion percent', DEFAULT_DELETION_LIMITS.maxRoleDeletionPercent, 100),
    };
    const verdict = checkDeletions(deletionsOf(plan), managedRoleCount(current, desired.cluster, desired.path), limits, bundle.acknowledgeDeletions);
    if (verdict.kind === 'refused') throw new MassDeletionRefusedError(verdict);
    if (verdict.kind === 'acknowledged' && !opts.json) io.stdout(`The bundle acknowledges these ${verdict.deletions} deletions (${verdict.exceeded.join('; ')}).\n`);
    return 0;
  } finally {
    iam.destroy();
  }
}
