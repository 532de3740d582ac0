/**
 * The published policies bundle: what `podiam publish` writes and the Lambda functions read.
 * Deterministic (sorted, no timestamps inside the hashed part) so equal inputs give equal hashes.
 */

/** An IAM policy document as teams write it (identity policy: no Principal). */
export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement[] | PolicyStatement;
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[] | boolean | number | (string | boolean | number)[]>>;
  Principal?: unknown;
  NotPrincipal?: unknown;
}

export interface ExpectCase {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

/** One policies/<namespace>/<service>.json after parsing either form (plain document or wrapper). */
export interface ServicePolicy {
  namespace: string;
  service: string;
  /** Repository-relative path, e.g. policies/orders/reader.json — used in messages. */
  file: string;
  policy: PolicyDocument;
  managedPolicyArns: string[];
  maxSessionDuration?: number;
  description?: string;
  owners?: string[];
  expect?: { allow?: ExpectCase[]; deny?: ExpectCase[] };
}

/** policies/guardrails.json: the organisation's rules. */
export interface Guardrails {
  /** Actions (globs like 'iam:*') a team policy may not allow, with an optional resource restriction. */
  deniedActions: Array<{ action: string; resource?: string; reason?: string }>;
  permissionsBoundaryArn?: string;
  /** AWS accounts that resources and managed policies may belong to (empty: any). */
  allowedAccounts: string[];
  limits: { maxInlinePolicyChars: number; maxTrustPolicyChars: number; maxManagedPolicies: number };
}

export interface Bundle {
  schemaVersion: 1;
  /** sha256 of the canonical JSON of { guardrails, services }, hex. */
  hash: string;
  guardrails: Guardrails;
  /** Sorted by namespace, then service. */
  services: ServicePolicy[];
  /**
   * How many managed-role deletions the publisher acknowledges (`podiam publish
   * --acknowledge-deletions N`): a run that deletes more than the stack's limits goes ahead only
   * when this equals its number of deletions (iam-model/src/deletion-guard.ts). Hashed.
   */
  acknowledgeDeletions?: number;
}
