/** Findings for people: `file:line:column severity CODE message`, then a summary line. */
import type { CheckResult } from '../../../iam-model/src/check/check.ts';

export function renderHuman(result: CheckResult, elapsedMs?: number): string {
  const lines = result.findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.severity} ${f.code} ${f.path}\n    ${f.message}`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const time = elapsedMs === undefined ? '' : ` in ${elapsedMs} ms`;
  lines.push(`${plural(result.filesChecked, 'file')} checked${time}: ${plural(result.errors, 'error')}, ${plural(result.warnings, 'warning')}, ${plural(result.suggestions, 'suggestion')}.`);
  return `${lines.join('\n')}\n`;
}
