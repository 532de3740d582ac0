/** Findings for machines: one JSON document, stable field names. */
import type { CheckResult } from '../../../iam-model/src/check/check.ts';

export function renderJson(result: CheckResult): string {
  return `${JSON.stringify(
    {
      filesChecked: result.filesChecked,
      errors: result.errors,
      warnings: result.warnings,
      suggestions: result.suggestions,
      findings: result.findings,
    },
    null,
    2,
  )}\n`;
}
