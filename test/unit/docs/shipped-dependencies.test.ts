// package.json's "dependencies" are what the shipped code (core, iam-model, proxy, functions, CLI)
// imports at run time, no more and no less: a package only tests, scripts or benches use (yaml,
// for the chart and template tests) belongs in devDependencies, where `npm ci --omit=dev` leaves it out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { read, repoRoot, shippedSourceFiles } from './sources.ts';

/** The package a bare specifier names: `@scope/name` or `name`, without a subpath. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Packages a source file needs at run time; `import type` and `export type` are erased by the build. */
function runtimeImports(text: string): Set<string> {
  const found = new Set<string>();
  const statement = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?(?:[^;'"]*?\sfrom\s*)?['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(statement)) {
    const pkg = packageOf(m[3]!);
    if (pkg && !m[2]) found.add(pkg);
  }
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const pkg = packageOf(m[1]!);
    if (pkg) found.add(pkg);
  }
  return found;
}

describe('shipped dependencies', () => {
  it('reads runtime imports and leaves out type-only ones', () => {
    const text = "import { a } from 'pkg-a';\nimport type { B } from '@types/b';\nimport {\n  c,\n} from '@scope/c/sub';\nconst d = await import('pkg-d');\nimport './local.ts';\nimport { e } from 'node:fs';";
    assert.deepEqual([...runtimeImports(text)].sort(), ['@scope/c', 'pkg-a', 'pkg-d']);
  });

  it("lists in package.json's dependencies exactly the packages the shipped code imports", () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const imported = new Map<string, string>();
    for (const file of shippedSourceFiles()) {
      for (const name of runtimeImports(readFileSync(file, 'utf8'))) if (!imported.has(name)) imported.set(name, path.relative(repoRoot, file));
    }
    assert.ok(imported.has('@aws-sdk/client-iam'), 'could not read the shipped imports');
    const declared = new Set(Object.keys(pkg.dependencies ?? {}));
    const undeclared = [...imported].filter(([name]) => !declared.has(name)).map(([name, file]) => `${name} (imported by ${file})`);
    const unused = [...declared].filter((name) => !imported.has(name)).map((name) => `${name} (no shipped code imports it; move it to devDependencies)`);
    assert.deepEqual(undeclared, [], 'add these to dependencies');
    assert.deepEqual(unused, []);
  });
});
