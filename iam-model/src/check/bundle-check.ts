/**
 * The guardrail rules of `podiam check`, run again on a bundle as the functions read it from S3.
 * The bundle's hash shows only that its content matches itself, not who built it nor that
 * `podiam check` ever ran: anyone who can write the object can publish a hand-made bundle with a
 * valid hash. The reconcile and admission functions therefore refuse a bundle whose services
 * break its guardrails (denied actions, allowed accounts, managed-policy count, inline policy size).
 *
 * The same rule functions as the CLI (guardrail-rules.ts, size-rules.ts), without the AWS action
 * catalog: its data is megabytes that the functions (≤ 1 MB each) do not ship. The one place the
 * catalog decides — whether two action wildcards share an action — is then answered by whether the
 * two patterns can match one string (guardrail-rules.ts, globsIntersect): never laxer than the CLI.
 */
import type { Bundle } from '../bundle/bundle.ts';
import type { IamCatalog } from '../catalog/iam-catalog.ts';
import { makeReporter, statementViews, type FileContext } from './context.ts';
import { sortFindings, type Finding } from './finding.ts';
import { guardrailRules } from './guardrail-rules.ts';
import { sizeRules } from './size-rules.ts';
import { SourceFile } from './source.ts';

/** A catalog that knows no service: every question that needs one falls back to the patterns. */
export const NO_CATALOG: IamCatalog = {
  serviceExists: () => false,
  action: () => undefined,
  expandAction: () => [],
  resourceType: () => undefined,
  conditionKeyExists: () => false,
  conditionKeyType: () => undefined,
  actionSupportsConditionKey: () => false,
  version: 'none',
};

/** The findings of the guardrail rules on every service of the bundle (errors and warnings), sorted. */
export function checkBundleGuardrails(bundle: Bundle): Finding[] {
  const findings: Finding[] = [];
  for (const service of bundle.services) {
    // The file's wrapper form, so a finding's path reads as it would in policies/<ns>/<svc>.json.
    const shape = { policy: service.policy, managedPolicyArns: service.managedPolicyArns ?? [] };
    const source = new SourceFile(JSON.stringify(shape, null, 2));
    const ctx: FileContext = {
      file: service.file,
      source,
      service: { ...service, managedPolicyArns: shape.managedPolicyArns },
      policyPath: ['policy'],
      statements: statementViews(service.policy, ['policy']),
      policyIntact: true,
      guardrails: bundle.guardrails,
      catalog: NO_CATALOG,
      report: makeReporter(service.file, source, findings),
    };
    guardrailRules(ctx);
    sizeRules(ctx);
  }
  return sortFindings(findings);
}
