// Every check podiam runs has a failing and a passing fixture under test/fixtures/policies/<check>/.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkPolicies } from '../../../iam-model/src/check/check.ts';
import { findingCodes, type FindingCode } from '../../../iam-model/src/check/finding.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const fixtures = path.join(repo, 'test/fixtures/policies');
const defaultGuardrails = path.join(repo, 'policies/guardrails.json');

function slug(code: string): string {
  return code.replace(/^PODIAM_CHECK_/, '').toLowerCase().replace(/_/g, '-');
}

function check(root: string) {
  const own = path.join(root, 'guardrails.json');
  return checkPolicies({ root, cluster: 'dev', guardrailsFile: existsSync(own) ? own : defaultGuardrails, cwd: root });
}

/**
 * Codes that no folder of policy files can produce. Two files reach one role name only through
 * a SHA-256 collision in 80 bits (core/src/naming.ts), so the collision rule is a backstop,
 * driven directly in test/unit/cli/rules.test.ts; its fixture has only a passing folder.
 */
const UNREACHABLE_FROM_FILES = new Set<FindingCode>(['PODIAM_CHECK_ROLE_NAME_COLLISION']);

describe('policy checks, one failing and one passing fixture each', () => {
  it('PODIAM_CHECK_ROLE_NAME_COLLISION: a/b-c.json and a-b/c.json, one role name in the earlier name shape, no longer collide', () => {
    const passed = check(path.join(fixtures, 'role-name-collision', 'pass'));
    assert.deepEqual(passed.services.map((s) => `${s.namespace}/${s.service}`).sort(), ['a-b/c', 'a-b/d', 'a/b-c']);
    assert.deepEqual(passed.findings.filter((f) => f.severity === 'error'), []);
  });

  for (const code of Object.keys(findingCodes) as FindingCode[]) {
    if (UNREACHABLE_FROM_FILES.has(code)) continue;
    const dir = path.join(fixtures, slug(code));
    it(`${code}: the failing fixture reports it where expected, the passing one has no errors`, () => {
      assert.ok(existsSync(path.join(dir, 'fail')) && existsSync(path.join(dir, 'pass')), `add test/fixtures/policies/${slug(code)}/{fail,pass}`);
      const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { code: string; file: string; path: string; line?: number; column?: number };
      assert.equal(expected.code, code);

      const failed = check(path.join(dir, 'fail'));
      const hit = failed.findings.find((f) => f.code === code && f.file === expected.file && f.path === expected.path);
      assert.ok(hit, `expected ${code} at ${expected.file} ${expected.path}; got ${JSON.stringify(failed.findings.map((f) => [f.code, f.file, f.path]))}`);
      assert.equal(hit.severity, findingCodes[code]);
      assert.match(hit.message, /\w{3,}.*[.;]/, 'the message says what to change');
      if (expected.line !== undefined) assert.deepEqual([hit.line, hit.column], [expected.line, expected.column]);
      if (findingCodes[code] === 'error') assert.ok(failed.errors > 0);

      const passed = check(path.join(dir, 'pass'));
      assert.deepEqual(passed.findings.filter((f) => f.code === code), []);
      assert.deepEqual(passed.findings.filter((f) => f.severity === 'error'), []);
    });
  }
});
