/** IAM's size quotas: measured as IAM does, without whitespace. */
import type { FileContext } from './context.ts';

/** Characters IAM counts for a policy document: its JSON without any whitespace. */
export function iamPolicySize(document: unknown): number {
  return JSON.stringify(document).replace(/\s+/g, '').length;
}

export function sizeRules(ctx: FileContext, trustPolicySize?: number): void {
  const { limits } = ctx.guardrails;
  const size = iamPolicySize(ctx.service.policy);
  if (size > limits.maxInlinePolicyChars) {
    ctx.report('PODIAM_CHECK_POLICY_SIZE', ctx.policyPath, `the inline policy has ${size} characters (whitespace not counted), over the role's limit of ${limits.maxInlinePolicyChars}; merge statements, use wildcards within one service, or move stable parts to a managed policy.`);
  }
  if (trustPolicySize !== undefined && trustPolicySize > limits.maxTrustPolicyChars) {
    ctx.report('PODIAM_CHECK_TRUST_POLICY_SIZE', [], `the generated trust policy has ${trustPolicySize} characters, over the limit of ${limits.maxTrustPolicyChars}; use fewer intermediate role ARNs.`);
  }
}
