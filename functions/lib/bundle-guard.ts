/**
 * The functions re-run the guardrail rules of `podiam check` on every bundle they read, and refuse
 * one that breaks them: its content hash is not a signature, so a bundle written to the bucket by
 * anything but `podiam publish` after a passing check must not reach IAM. The refusal is logged
 * with the finding codes and counted (metric BundleRefused, dimension Function).
 */
import { PodiamError, errorCodes } from '../../core/src/errors.ts';
import type { Bundle } from '../../iam-model/src/bundle/bundle.ts';
import { checkBundleGuardrails } from '../../iam-model/src/check/bundle-check.ts';
import type { Finding } from '../../iam-model/src/check/finding.ts';
import type { Logger } from './log.ts';
import type { MetricSink } from './metrics.ts';

export const BUNDLE_REFUSED_METRIC = 'BundleRefused';

export class BundleGuardrailsError extends PodiamError {
  readonly findings: readonly Finding[];
  constructor(bundleHash: string, findings: readonly Finding[]) {
    const first = findings.slice(0, 5).map((f) => `${f.file} ${f.path}: ${f.code}`).join('; ');
    super(
      'PODIAM_BUNDLE_GUARDRAILS_FAILED',
      `bundle ${bundleHash.slice(0, 12)} breaks its own guardrails (${findings.length} error(s): ${first}${findings.length > 5 ? '; …' : ''}); it is refused and no role changes. ${errorCodes.PODIAM_BUNDLE_GUARDRAILS_FAILED.fix}`,
    );
    this.findings = findings;
  }
}

/** Throws BundleGuardrailsError (after logging it and counting it) when the bundle breaks its guardrails. */
export function refuseBundleBreakingGuardrails(bundle: Bundle, fn: 'reconcile' | 'admission', log: Logger, metric: MetricSink): void {
  const errors = checkBundleGuardrails(bundle).filter((f) => f.severity === 'error');
  if (errors.length === 0) return;
  const findingCodes = [...new Set(errors.map((f) => f.code))].sort();
  log('error', 'bundle refused: it breaks its guardrails', {
    code: 'PODIAM_BUNDLE_GUARDRAILS_FAILED',
    function: fn,
    bundleHash: bundle.hash,
    findingCodes,
    findings: errors.slice(0, 20).map((f) => ({ code: f.code, file: f.file, path: f.path })),
  });
  metric(BUNDLE_REFUSED_METRIC, 1, { Function: fn }, { code: 'PODIAM_BUNDLE_GUARDRAILS_FAILED', findingCodes });
  throw new BundleGuardrailsError(bundle.hash, errors);
}
