/** `podiam plan`: placeholder until functions/lib's IAM reader lands. */
import type { Env } from './options.ts';
import { UsageError } from '../errors.ts';

export interface PlanCommandOptions {
  dir: string;
  cluster: string;
  guardrailsFile?: string | undefined;
  json: boolean;
  accountId?: string | undefined;
  intermediateRoleArns: string[];
  externalId?: string | undefined;
  permissionsBoundaryArn?: string | undefined;
  aws: { region?: string | undefined; endpointUrl?: string | undefined };
}

export async function runPlan(_opts: PlanCommandOptions, _io: { stdout: (t: string) => void; env: Env }): Promise<number> {
  throw new UsageError('plan is not available yet.');
}
