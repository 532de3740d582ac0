/**
 * The demo's printed report: one row per pod, then one line per check. Pure: rows in, text out.
 * Shows role ARNs and the last four characters of access key IDs, never a secret.
 */
import type { PodRun } from './checks.ts';

export interface PodRow {
  pod: string;
  namespace: string;
  annotation: string;
  run: PodRun;
  expectedArn: RegExp;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function mark(ok: boolean): string {
  return ok ? 'ok  ' : 'FAIL';
}

export function podMatches(row: PodRow): boolean {
  return row.run.ok && row.expectedArn.test(row.run.arn ?? '') && row.run.checks.length > 0 && row.run.checks.every((c) => c.outcome === c.expect);
}

export function renderReport(rows: PodRow[]): string {
  const summary = table(
    ['POD', 'NAMESPACE', 'ANNOTATION', 'ROLE ARN RECEIVED (key …last4)', 'PASSED', 'REFUSED', 'AS EXPECTED'],
    rows.map((r) => {
      const passed = r.run.checks.filter((c) => c.outcome === 'allowed').length;
      const refused = r.run.checks.filter((c) => c.outcome === 'refused').length;
      const arn = r.run.ok ? `${r.run.arn ?? '?'} (…${r.run.accessKeyIdTail ?? '????'})` : `no credentials: ${r.run.error ?? 'unknown error'}`;
      return [r.pod, r.namespace, `iam.amazonaws.com/role: ${r.annotation}`, arn, String(passed), String(refused), podMatches(r) ? 'yes' : 'NO'];
    }),
  );
  const details: string[] = [];
  for (const r of rows) {
    for (const c of r.run.checks) {
      const got = c.outcome === 'allowed' ? 'passed' : c.outcome === 'refused' ? `refused${c.error ? ` (${c.error})` : ''}` : `failed (${c.error ?? '?'})`;
      const want = c.expect === 'allowed' ? 'passed' : 'refused';
      details.push(`  ${mark(c.outcome === c.expect)} ${r.pod.padEnd(14)} ${c.action.padEnd(21)} ${c.resource.padEnd(44)} ${got}; policy says ${want}`);
    }
  }
  return `${summary}\n\nChecks made from inside the pods against moto (IAM enforcement on):\n${details.join('\n')}`;
}
