// `npm test` and skipped suites: node's runner exits 0 when a suite is skipped, so a CI machine
// without root or a peer would pass while running nothing. scripts/run-node-tests.mjs (what
// scripts/test.mjs runs after set-up) records every skip with a second reporter; these tests run it
// on tiny fixture files, with and without CI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCi, skipVerdict } from '../../../scripts/skips.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SKIPPING = 'test/fixtures/test-runner/skips-for-root.fixture.ts';
const CLEAN = 'test/fixtures/test-runner/no-skips.fixture.ts';

function runTests(file: string, ci: string | undefined) {
  const env: Record<string, string | undefined> = { ...process.env, CI: ci };
  if (ci === undefined) delete env.CI;
  // Set by the runner around this test; a nested run must be a top-level run of its own.
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['scripts/run-node-tests.mjs', file], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('skipped suites and CI', () => {
  it('fails a CI run in which a suite was skipped, naming the suite, its file and the missing privilege', () => {
    const { status, stderr } = runTests(SKIPPING, 'true');

    assert.notEqual(status, 0);
    assert.match(stderr, /CI is set and 1 suite\(s\)\/test\(s\) were skipped/);
    assert.match(stderr, /test\/fixtures\/test-runner\/skips-for-root\.fixture\.ts: 'a suite that needs root': needs root \(fixture\)/);
  });

  it('passes the same run without CI, and still lists the skip at the end', () => {
    const { status, stdout, stderr } = runTests(SKIPPING, undefined);

    assert.equal(status, 0, stdout + stderr);
    assert.match(stderr, /podiam test: 1 skipped \(fails when CI is set\):\n {2}- test\/fixtures\/test-runner\/skips-for-root\.fixture\.ts: 'a suite that needs root': needs root \(fixture\)/);
  });

  it('passes a CI run in which nothing was skipped', () => {
    const { status, stdout, stderr } = runTests(CLEAN, 'true');

    assert.equal(status, 0, stdout + stderr);
    assert.doesNotMatch(stderr, /skipped/);
  });

  it("keeps the run's own failure code when tests failed as well", () => {
    const verdict = skipVerdict([{ name: 'netns', file: path.join(root, 'test/e2e/proxy/netns.test.ts'), reason: 'PODIAM_SKIP: needs root' }], { ci: true, runExit: 7, root });

    assert.equal(verdict.exitCode, 7);
    assert.match(verdict.lines.join('\n'), /test\/e2e\/proxy\/netns\.test\.ts: 'netns': needs root/);
  });

  it('takes CI as set for any value but empty, 0 or false', () => {
    assert.deepEqual(['true', '1', 'yes', '', '0', 'false', undefined].map((CI) => isCi({ CI })), [true, true, true, false, false, false, false]);
  });
});
