// Reads what scripts/skip-reporter.mjs wrote and decides what a run with skips means: listed at
// the end of every run; with CI set, a failure that names each skipped suite or test and why.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SKIP_PREFIX = 'PODIAM_SKIP:';

/** CI is set: any value but empty, 0 or false. */
export function isCi(env = process.env) {
  const v = (env.CI ?? '').trim().toLowerCase();
  return v !== '' && v !== '0' && v !== 'false';
}

/** The skips recorded in `file` (JSON lines); none when the file is missing or empty. */
export function readSkips(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

function describeSkip(skip, root) {
  const where = skip.file ? path.relative(root, skip.file) || skip.file : '(unknown file)';
  const why = skip.reason ? skip.reason.replace(SKIP_PREFIX, '').trim() : 'no reason given';
  return `${where}: '${skip.name}': ${why}`;
}

/**
 * `{ exitCode, lines }` for a run whose own exit code was `runExit`. Without CI, skips are only
 * listed. With CI, any skip fails the run: CI must run every suite, and a skip there means a
 * missing privilege or peer on the CI machine (or a skip that should not be in the tree).
 */
export function skipVerdict(skips, { ci, runExit = 0, root = process.cwd() }) {
  if (skips.length === 0) return { exitCode: runExit, lines: [] };
  const listed = skips.map((s) => `  - ${describeSkip(s, root)}`);
  if (!ci) return { exitCode: runExit, lines: [`podiam test: ${skips.length} skipped (fails when CI is set):`, ...listed] };
  return {
    exitCode: runExit || 1,
    lines: [`podiam test: CI is set and ${skips.length} suite(s)/test(s) were skipped; give the CI machine what they need (root, the peers from scripts/peers/install.sh), then run again:`, ...listed],
  };
}
