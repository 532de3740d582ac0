/** Findings for people: `file:line:column severity CODE path`, the fix below, then a summary line. */
import type { CheckResult } from '../../../iam-model/src/check/check.ts';
import type { Severity } from '../../../iam-model/src/check/finding.ts';

/** ANSI SGR sequences; each turns off only what it turned on, so they nest. */
const paint = {
  bold: (s: string) => `\u001b[1m${s}\u001b[22m`,
  dim: (s: string) => `\u001b[2m${s}\u001b[22m`,
  red: (s: string) => `\u001b[31m${s}\u001b[39m`,
  yellow: (s: string) => `\u001b[33m${s}\u001b[39m`,
  cyan: (s: string) => `\u001b[36m${s}\u001b[39m`,
};
const plain = (s: string) => s;

const severityColour: Record<Severity, (s: string) => string> = { error: paint.red, warning: paint.yellow, suggestion: paint.cyan };

/**
 * Control characters from a policy file (an action, a file or key name) shown escaped: written raw
 * to a terminal, ESC sequences could erase or recolour lines, and a CR or LF could forge a finding
 * or a clean summary line under the real ones.
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `1 file`, `2 files`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export interface HumanOptions {
  elapsedMs?: number;
  /** ANSI colours: only for a terminal (see main.ts's useColour). */
  colour?: boolean;
}

export function renderHuman(result: CheckResult, options: HumanOptions = {}): string {
  const c = options.colour ? paint : { bold: plain, dim: plain, red: plain, yellow: plain, cyan: plain };
  const sev = (s: Severity) => (options.colour ? severityColour[s](s) : s);
  const lines = result.findings.map((f) => `${c.bold(`${visible(f.file)}:${f.line}:${f.column}`)} ${sev(f.severity)} ${f.code} ${c.dim(visible(f.path))}\n    ${visible(f.message)}`);
  const time = options.elapsedMs === undefined ? '' : ` in ${options.elapsedMs} ms`;
  const errors = plural(result.errors, 'error');
  const warnings = plural(result.warnings, 'warning');
  lines.push(
    `${plural(result.filesChecked, 'file')} checked${time}: ${result.errors ? c.red(errors) : errors}, ${result.warnings ? c.yellow(warnings) : warnings}, ${plural(result.suggestions, 'suggestion')}.`,
  );
  return `${lines.join('\n')}\n`;
}
