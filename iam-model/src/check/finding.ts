/** A problem found in a policy file: a value with a stable code, a place and a fix, never an exception. */

export type Severity = 'error' | 'warning' | 'suggestion';

/** Every check podiam runs, with its severity. test/fixtures/policies/<code>/ holds a failing and a passing example of each. */
export const findingCodes = {
  PODIAM_CHECK_JSON_SYNTAX: 'error',
  PODIAM_CHECK_DUPLICATE_KEY: 'error',
  PODIAM_CHECK_SCHEMA: 'error',
  PODIAM_CHECK_LAYOUT: 'error',
  PODIAM_CHECK_PRINCIPAL_FORBIDDEN: 'error',
  PODIAM_CHECK_ACTION_ELEMENTS: 'error',
  PODIAM_CHECK_RESOURCE_ELEMENTS: 'error',
  PODIAM_CHECK_SID_INVALID: 'error',
  PODIAM_CHECK_SID_DUPLICATE: 'error',
  PODIAM_CHECK_ACTION_SYNTAX: 'error',
  PODIAM_CHECK_SERVICE_UNKNOWN: 'error',
  PODIAM_CHECK_ACTION_UNKNOWN: 'error',
  PODIAM_CHECK_RESOURCE_SYNTAX: 'error',
  PODIAM_CHECK_RESOURCE_MISMATCH: 'error',
  PODIAM_CHECK_RESOURCE_UNUSED: 'warning',
  PODIAM_CHECK_CONDITION_OPERATOR: 'error',
  PODIAM_CHECK_CONDITION_KEY: 'error',
  PODIAM_CHECK_CONDITION_KEY_NOT_APPLICABLE: 'warning',
  PODIAM_CHECK_CONDITION_TYPE: 'warning',
  PODIAM_CHECK_GUARDRAIL_ACTION: 'error',
  PODIAM_CHECK_ACCOUNT_NOT_ALLOWED: 'error',
  PODIAM_CHECK_MANAGED_POLICY_LIMIT: 'error',
  PODIAM_CHECK_POLICY_SIZE: 'error',
  PODIAM_CHECK_TRUST_POLICY_SIZE: 'error',
  PODIAM_CHECK_NAME_INVALID: 'error',
  PODIAM_CHECK_ROLE_NAME_HASHED: 'suggestion',
  PODIAM_CHECK_ROLE_NAME_COLLISION: 'error',
  PODIAM_CHECK_PASSROLE_STAR: 'warning',
  PODIAM_CHECK_WRITE_ON_STAR: 'warning',
  PODIAM_CHECK_PRIVILEGE_ESCALATION: 'warning',
  PODIAM_CHECK_ALLOW_NOT: 'warning',
  PODIAM_CHECK_EXPECT_INVALID: 'error',
  PODIAM_CHECK_EXPECT_FAILED: 'error',
  PODIAM_CHECK_EXPECT_UNDECIDED: 'warning',
} as const satisfies Record<string, Severity>;

export type FindingCode = keyof typeof findingCodes;

export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** Path as given on the command line's root, e.g. policies/orders/reader.json. */
  file: string;
  /** JSON path inside the file, e.g. $.policy.Statement[0].Action[1]; '$' for the whole file. */
  path: string;
  line: number;
  column: number;
  message: string;
}

export type PathSegment = string | number;

export function jsonPath(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
  return out;
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, suggestion: 2 };

/** Stable order: file, line, column, severity, code. */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      severityRank[a.severity] - severityRank[b.severity] ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}
