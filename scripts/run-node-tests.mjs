// Runs node's test runner on the given files with two reporters: spec to the terminal, and
// scripts/skip-reporter.mjs to a temp file that records every skip. After the run, the skips are
// listed; with CI set, any skip fails the run (node's runner itself exits 0 on skips).
// scripts/test.mjs calls it after setting up; on its own: node scripts/run-node-tests.mjs <files…>
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isCi, readSkips, skipVerdict } from './skips.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Returns the exit code for the whole run. */
export function runNodeTests(files, { concurrency = '1', env = process.env } = {}) {
  const skipDir = mkdtempSync(path.join(tmpdir(), 'podiam-test-'));
  const skipFile = path.join(skipDir, 'skips.jsonl');
  try {
    const r = spawnSync(
      process.execPath,
      [
        '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        `--test-reporter=${pathToFileURL(path.join(repoRoot, 'scripts/skip-reporter.mjs')).href}`, `--test-reporter-destination=${skipFile}`,
        ...files,
      ],
      { cwd: repoRoot, stdio: 'inherit', env: { ...env, PODIAM_REPO_ROOT: repoRoot } },
    );
    const verdict = skipVerdict(readSkips(skipFile), { ci: isCi(env), runExit: r.status ?? 1, root: repoRoot });
    for (const line of verdict.lines) console.error(line);
    return verdict.exitCode;
  } finally {
    rmSync(skipDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(runNodeTests(process.argv.slice(2), { concurrency: process.env.PODIAM_TEST_CONCURRENCY ?? '1' }));
}
