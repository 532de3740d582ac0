// The esbuild options every podiam bundle is built with: `npm run build`, `sam build` (the Makefile
// calls scripts/build.mjs for each function), and the benchmarks and tests that build a bundle
// themselves, so what they measure is what ships.

// The Node major everything ships on: template.yaml's Runtime (nodejs24.x), the proxy image
// (proxy/Dockerfile) and package.json's engines. test/unit/functions/runtime-versions.test.ts keeps
// them equal.
export const SHIPPED_NODE_MAJOR = 24;

export const nodeBundleOptions = {
  bundle: true,
  platform: 'node',
  target: `node${SHIPPED_NODE_MAJOR}`,
  format: 'esm',
  minify: true,
  logLevel: 'warning',
  // ESM bundles of CommonJS dependencies need require(); give them one.
  banner: { js: "import { createRequire as __podiamCreateRequire } from 'node:module'; const require = __podiamCreateRequire(import.meta.url);" },
};

// The node proxy: CommonJS, not ESM. Node 24 keeps about 14 MB more resident for an ES module entry
// point than for a CommonJS one (its ESM loader: measured 61.5 against 47.7 MB RSS for the same
// idle node:http server; docs/benchmarks.md), on every node of every cluster. The proxy's code and
// its dependencies use no top-level await and no import.meta, so nothing else changes. The bench
// builds its bare baseline server with these same options, so both sides pay the same loader.
const { banner: _esmRequireBanner, ...withoutEsmBanner } = nodeBundleOptions;
export const proxyBundleOptions = { ...withoutEsmBanner, format: 'cjs' };

// The CLI and the functions (which re-run the policy checker's guardrail rules): jsonc-parser's UMD
// "main" loads its modules with a runtime require() that esbuild cannot follow; its ESM build
// ("module") bundles cleanly.
export const cliBundleOptions = { ...nodeBundleOptions, mainFields: ['module', 'main'] };

// A Lambda function: <outdir>/handler.mjs, which template.yaml's `Handler: handler.handler` names
// (the runtime loads handler.mjs as ESM because of its extension). Licence comments go to
// handler.mjs.LEGAL.txt beside it, so they ship with the code they belong to.
export const functionBundleOptions = {
  ...cliBundleOptions,
  legalComments: 'linked',
  // Source maps: see docs/benchmarks.md ("Source maps in the shipped functions") for the measurement.
  sourcemap: true,
};
