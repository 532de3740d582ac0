// One Lambda function's deployable artifact: functions/<name>/handler.ts bundled with
// functionBundleOptions into <outdir>/handler.mjs (+ .map, + .LEGAL.txt).
// `sam build` runs this through the Makefile (ARTIFACTS_DIR is the outdir), `npm run build` for
// dist/functions/<name>/: one build, so the tests and benchmarks run what a deploy uploads.
// Usage: node scripts/build-function.mjs <reconcile|admission|rotate> <outdir>
import { build } from 'esbuild';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionBundleOptions } from './esbuild-options.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles functions/<name>/handler.ts into <outdir>/handler.mjs; returns the bundle's path. */
export async function buildFunction(name, outdir) {
  const entry = path.join(repoRoot, 'functions', name, 'handler.ts');
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(entry)) {
    throw new Error(`podiam build: no function '${name}' (functions/${name}/handler.ts is missing); name one of the folders under functions/.`);
  }
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, 'handler.mjs');
  await build({ ...functionBundleOptions, entryPoints: [entry], outfile, absWorkingDir: repoRoot });
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [name, outdir] = process.argv.slice(2);
  if (!name || !outdir) {
    console.error('usage: node scripts/build-function.mjs <function> <outdir>');
    process.exit(2);
  }
  await buildFunction(name, path.resolve(outdir));
}
