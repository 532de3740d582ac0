// `npm run build`: esbuild bundles — one for the proxy, one per Lambda function, one for the CLI.
// Output: dist/proxy/main.cjs (CommonJS: scripts/esbuild-options.mjs says why), dist/functions/<name>/handler.mjs (exactly what `sam build` packages:
// scripts/build-function.mjs), dist/cli/podiam.mjs (+ .map each).
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './ensure-setup.mjs';
import { buildFunction } from './build-function.mjs';
import { cliBundleOptions, nodeBundleOptions, proxyBundleOptions } from './esbuild-options.mjs';


const entries = [];
const proxyMain = path.join(repoRoot, 'proxy/src/main.ts');
if (existsSync(proxyMain)) entries.push({ in: proxyMain, out: 'proxy/main' });
const cliMain = path.join(repoRoot, 'cli/src/main.ts');
if (existsSync(cliMain)) entries.push({ in: cliMain, out: 'cli/podiam' });
const functionsDir = path.join(repoRoot, 'functions');
const functions = (existsSync(functionsDir) ? readdirSync(functionsDir).sort() : []).filter(
  (name) => name !== 'lib' && statSync(path.join(functionsDir, name)).isDirectory() && existsSync(path.join(functionsDir, name, 'handler.ts')),
);

const started = Date.now();
for (const entry of entries) {
  const options = entry.out === 'proxy/main' ? { ...proxyBundleOptions, outExtension: { '.js': '.cjs' } } : { ...nodeBundleOptions, mainFields: cliBundleOptions.mainFields, outExtension: { '.js': '.mjs' } };
  await build({ ...options, sourcemap: true, legalComments: 'linked', entryPoints: [entry], outdir: path.join(repoRoot, 'dist'), metafile: false });
}
for (const name of functions) await buildFunction(name, path.join(repoRoot, 'dist/functions', name));
console.log(`podiam build: ${entries.length + functions.length} bundles in ${Date.now() - started} ms -> dist/`);
