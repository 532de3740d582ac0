// The esbuild options every podiam bundle is built with: `npm run build`, and the benchmarks and
// tests that build a bundle themselves, so what they measure is what ships.

export const nodeBundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  logLevel: 'warning',
  // ESM bundles of CommonJS dependencies need require(); give them one.
  banner: { js: "import { createRequire as __podiamCreateRequire } from 'node:module'; const require = __podiamCreateRequire(import.meta.url);" },
};

// The CLI and the functions (which re-run the policy checker's guardrail rules): jsonc-parser's UMD
// "main" loads its modules with a runtime require() that esbuild cannot follow; its ESM build
// ("module") bundles cleanly. template.yaml's BuildProperties say the same (MainFields).
export const cliBundleOptions = { ...nodeBundleOptions, mainFields: ['module', 'main'] };
export const functionBundleOptions = cliBundleOptions;
