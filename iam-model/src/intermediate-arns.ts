/**
 * Which role ARNs may become an intermediate (node proxy) role, i.e. a principal in every
 * managed role's trust policy. Pure: an ARN and the stack's scope in, a decision with its reason
 * out.
 *
 * The rule is checked wherever an ARN enters from outside the stack's parameters: a rotate
 * request, the rotation state object in S3, and the IAM reader's "does it exist?" answer. An ARN
 * is allowed when it is a role of the stack's own partition and account, or when the operator
 * listed it in the stack's ForeignIntermediateRoleArns (empty by default). The configured
 * IntermediateRoleArns count as listed: the operator wrote them into the stack.
 * Without this, whoever can send a rotate request or write the state object names a role in
 * their own account and it can assume every managed role of the cluster.
 */
import { parseRoleArn } from '../../core/src/naming.ts';

export interface IntermediateArnScope {
  /** The stack's partition (aws, aws-cn, aws-us-gov, …). */
  partition: string;
  /** The stack's account. */
  accountId: string;
  /** Exact role ARNs allowed outside the account: ForeignIntermediateRoleArns plus the configured ones. */
  allowed: ReadonlySet<string>;
}

export type IntermediateArnDecision = { allowed: true; foreign: boolean } | { allowed: false; reason: string };

export function intermediateArnScope(settings: { partition: string; accountId: string; configured: readonly string[]; foreignAllowed: readonly string[] }): IntermediateArnScope {
  return { partition: settings.partition, accountId: settings.accountId, allowed: new Set([...settings.configured, ...settings.foreignAllowed]) };
}

export function decideIntermediateArn(arn: string, scope: IntermediateArnScope): IntermediateArnDecision {
  const parsed = parseRoleArn(arn);
  if (!parsed) return { allowed: false, reason: `${JSON.stringify(arn)} is not an IAM role ARN` };
  // Another partition can never be a principal here, even if listed: IAM trust does not cross partitions.
  if (parsed.partition !== scope.partition) return { allowed: false, reason: `${arn} is in partition ${parsed.partition}, the stack runs in ${scope.partition}` };
  if (parsed.accountId === scope.accountId) return { allowed: true, foreign: false };
  if (scope.allowed.has(arn)) return { allowed: true, foreign: true };
  return {
    allowed: false,
    reason: `${arn} is a role of account ${parsed.accountId}, not of the stack's account ${scope.accountId}; list it in the stack parameter ForeignIntermediateRoleArns if it really is a node proxy role`,
  };
}
