/**
 * GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff.
 * https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
 */
import type { CheckResult } from '../../../iam-model/src/check/check.ts';
import type { Severity } from '../../../iam-model/src/check/finding.ts';
import { plural } from './human.ts';

const level: Record<Severity, string> = { error: 'error', warning: 'warning', suggestion: 'notice' };

/** Property values escape %, CR, LF, ':' and ','; messages escape %, CR, LF. */
function escapeProperty(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function renderGithub(result: CheckResult): string {
  const lines = result.findings.map(
    (f) => `::${level[f.severity]} file=${escapeProperty(f.file)},line=${f.line},col=${f.column},title=${escapeProperty(f.code)}::${escapeData(`${f.path}: ${f.message}`)}`,
  );
  lines.push(`podiam check: ${plural(result.filesChecked, 'file')}, ${plural(result.errors, 'error')}, ${plural(result.warnings, 'warning')}, ${plural(result.suggestions, 'suggestion')}`);
  return `${lines.join('\n')}\n`;
}
