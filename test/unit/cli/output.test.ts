import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult } from '../../../iam-model/src/check/check.ts';
import { renderGithub } from '../../../cli/src/output/github.ts';
import { renderHuman } from '../../../cli/src/output/human.ts';
import { renderJson } from '../../../cli/src/output/json.ts';

const result: CheckResult = {
  findings: [
    { code: 'PODIAM_CHECK_SID_INVALID', severity: 'error', file: 'policies/a,b/x:y.json', path: '$.Statement[0].Sid', line: 3, column: 5, message: "Sid 'a-b' may contain only letters and digits;\n100% sure." },
    { code: 'PODIAM_CHECK_ROLE_NAME_HASHED', severity: 'suggestion', file: 'policies/a/b.json', path: '$', line: 1, column: 1, message: 'shorten it.' },
  ],
  services: [],
  guardrails: { deniedActions: [], allowedAccounts: [], limits: { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 10 } },
  filesChecked: 2,
  errors: 1,
  warnings: 0,
  suggestions: 1,
};

describe('output formats', () => {
  it('github: escapes %, newlines, commas and colons in properties, and maps suggestions to notices', () => {
    const lines = renderGithub(result).trim().split('\n');
    assert.equal(lines[0], "::error file=policies/a%2Cb/x%3Ay.json,line=3,col=5,title=PODIAM_CHECK_SID_INVALID::$.Statement[0].Sid: Sid 'a-b' may contain only letters and digits;%0A100%25 sure.");
    assert.equal(lines[1], '::notice file=policies/a/b.json,line=1,col=1,title=PODIAM_CHECK_ROLE_NAME_HASHED::$: shorten it.');
    assert.equal(lines.length, 3);
  });

  it('json: one parseable document with the counts and every field of each finding', () => {
    const doc = JSON.parse(renderJson(result)) as { errors: number; suggestions: number; findings: Array<Record<string, unknown>> };
    assert.equal(doc.errors, 1);
    assert.equal(doc.suggestions, 1);
    assert.deepEqual(Object.keys(doc.findings[0]!).sort(), ['code', 'column', 'file', 'line', 'message', 'path', 'severity']);
  });

  it('human: file:line:column, severity, code and path, the message below, and a summary', () => {
    const text = renderHuman(result, { elapsedMs: 12 });
    assert.match(text, /^policies\/a,b\/x:y\.json:3:5 error PODIAM_CHECK_SID_INVALID \$\.Statement\[0\]\.Sid\n {4}Sid 'a-b'/);
    assert.match(text, /2 files checked in 12 ms: 1 error, 0 warnings, 1 suggestion\.\n$/);
  });
});
