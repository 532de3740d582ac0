/** `podiam plan [DIR]`: what publishing DIR would change in IAM for this cluster. Read-only. */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { CliError, UsageError } from '../errors.ts';
import { computePlan } from '../plan/compute-plan.ts';
import { renderPlanHuman, renderPlanJson } from '../plan/render-plan.ts';
import { iamClient, stsClient, type AwsOptions } from './aws-clients.ts';
import type { Env } from './options.ts';
import { checkedBundle } from './publish-command.ts';

export interface PlanCommandOptions {
  dir: string;
  cluster: string;
  guardrailsFile?: string | undefined;
  json: boolean;
  accountId?: string | undefined;
  intermediateRoleArns: string[];
  externalId?: string | undefined;
  permissionsBoundaryArn?: string | undefined;
  aws: AwsOptions;
}

async function callerAccount(aws: AwsOptions, env: Env): Promise<string> {
  const sts = stsClient(aws, env);
  try {
    const id = await sts.send(new GetCallerIdentityCommand({}));
    if (!id.Account) throw new Error('GetCallerIdentity returned no account');
    return id.Account;
  } catch (err: unknown) {
    throw new CliError('PODIAM_PLAN_FAILED', `cannot tell the AWS account (${err instanceof Error ? err.message : String(err)}); pass --account-id or set AWS credentials.`, { cause: err });
  } finally {
    sts.destroy();
  }
}

export async function runPlan(opts: PlanCommandOptions, io: { stdout: (t: string) => void; env: Env }): Promise<number> {
  if (opts.intermediateRoleArns.length === 0) {
    throw new UsageError('give the node proxy role ARN(s) with --intermediate-role-arn (or PODIAM_INTERMEDIATE_ROLE_ARNS, comma-separated).');
  }
  if (opts.accountId !== undefined && !/^\d{12}$/.test(opts.accountId)) throw new UsageError(`--account-id '${opts.accountId}' is not a 12-digit account id.`);
  const bundle = checkedBundle(opts, io.stdout);
  const accountId = opts.accountId ?? (await callerAccount(opts.aws, io.env));
  const iam = iamClient(opts.aws, io.env);
  try {
    const { desired, plan } = await computePlan(iam, bundle, {
      cluster: opts.cluster,
      accountId,
      intermediateRoleArns: opts.intermediateRoleArns,
      permissionsBoundaryArn: opts.permissionsBoundaryArn,
      trustExternalId: opts.externalId,
    });
    io.stdout(opts.json ? renderPlanJson(desired, plan) : renderPlanHuman(desired, plan));
    return 0;
  } finally {
    iam.destroy();
  }
}
