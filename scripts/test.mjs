// `npm test` (all) and `npm run test:unit` (unit): set up what is missing, then run node's test runner.
// Usage: node scripts/test.mjs all|unit|integration|e2e [file-or-dir ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureNodeModules, ensurePeers, repoRoot } from './ensure-setup.mjs';
import { runNodeTests } from './run-node-tests.mjs';

const suite = process.argv[2] ?? 'all';
const explicit = process.argv.slice(3);
const suites = { unit: ['test/unit'], integration: ['test/integration'], e2e: ['test/e2e'], all: ['test/unit', 'test/integration', 'test/e2e'] };
if (!suites[suite]) {
  console.error(`podiam test: unknown suite '${suite}'; use one of ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}

function collect(target, out) {
  const abs = path.resolve(repoRoot, target);
  let st;
  try { st = statSync(abs); } catch { return out; }
  if (st.isFile()) { out.push(path.relative(repoRoot, abs)); return out; }
  for (const entry of readdirSync(abs).sort()) {
    const child = path.join(abs, entry);
    if (statSync(child).isDirectory()) collect(child, out);
    else if (entry.endsWith('.test.ts')) out.push(path.relative(repoRoot, child));
  }
  return out;
}

function step(name, cmd, args) {
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`podiam test: ${name} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

ensureNodeModules();
const files = explicit.length ? explicit.flatMap((t) => collect(t, [])) : suites[suite].flatMap((d) => collect(d, []));
if (suite === 'all' && !explicit.length) {
  step('lint', 'npx', ['eslint', '.']);
  step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
  step('build', 'node', ['scripts/build.mjs']);
}
if (suite !== 'unit') ensurePeers();
if (files.length === 0) {
  console.error('podiam test: no test files found');
  process.exit(1);
}
const concurrency = process.env.PODIAM_TEST_CONCURRENCY ?? '1';
console.log(`\n== ${files.length} test files (${suite}), concurrency ${concurrency}`);
// Skips are listed at the end; with CI set, a skipped suite (a missing privilege or peer) fails the run.
process.exit(runNodeTests(files, { concurrency }));
