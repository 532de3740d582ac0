// `npm run build`: esbuild bundles — one for the proxy, one per Lambda function, one for the CLI.
// Output: dist/proxy/main.mjs, dist/functions/<name>/index.mjs, dist/cli/podiam.mjs (+ .map each).
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './ensure-setup.mjs';
import { cliBundleOptions, nodeBundleOptions } from './esbuild-options.mjs';

const common = { ...nodeBundleOptions, sourcemap: true, legalComments: 'linked' };

const entries = [];
const proxyMain = path.join(repoRoot, 'proxy/src/main.ts');
if (existsSync(proxyMain)) entries.push({ in: proxyMain, out: 'proxy/main' });
const cliMain = path.join(repoRoot, 'cli/src/main.ts');
if (existsSync(cliMain)) entries.push({ in: cliMain, out: 'cli/podiam' });
const functionsDir = path.join(repoRoot, 'functions');
for (const name of existsSync(functionsDir) ? readdirSync(functionsDir).sort() : []) {
  const handler = path.join(functionsDir, name, 'handler.ts');
  if (name !== 'lib' && statSync(path.join(functionsDir, name)).isDirectory() && existsSync(handler)) {
    entries.push({ in: handler, out: `functions/${name}/index`, target: 'node22' });
  }
}

const started = Date.now();
// Targets follow the runtimes: the proxy image and the CLI run on Node 20+, the functions on
// template.yaml's nodejs22.x (nodejs20.x is past end of life, and cfn-lint refuses it).
for (const { target, ...entry } of entries) {
  const extra = entry.out === 'proxy/main' ? {} : { mainFields: cliBundleOptions.mainFields };
  await build({ ...common, ...extra, ...(target ? { target } : {}), entryPoints: [entry], outdir: path.join(repoRoot, 'dist'), outExtension: { '.js': '.mjs' }, metafile: false });
}
console.log(`podiam build: ${entries.length} bundles in ${Date.now() - started} ms -> dist/`);
