// The SAM template validates (sam validate --lint runs cfn-lint), and `sam build` packages each function as
// the Makefile builds it (scripts/build-function.mjs): one minified ESM bundle, handler.mjs, with its
// source map, under 1 MB. The build is the one every functions test shares (test/support/sam-build.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildFunction } from '../../../scripts/build-function.mjs';
import { requireTool, toolEnv } from '../../peers/index.ts';
import { repoRoot, samBuild, SHIPPED_FUNCTIONS, type FunctionId } from '../../support/sam-build.ts';

describe('SAM template and build', () => {
  it('passes sam validate --lint', () => {
    const sam = requireTool('sam');
    const r = spawnSync(sam, ['validate', '--lint', '--region', 'us-east-1', '--template', 'template.yaml'], { cwd: repoRoot, encoding: 'utf8', timeout: 300_000, env: toolEnv() });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /is a valid SAM Template/);
  });

  it('packages each function as one minified ESM bundle handler.mjs with a source map, under 1 MB', () => {
    const build = samBuild();
    for (const fn of Object.keys(SHIPPED_FUNCTIONS) as FunctionId[]) {
      const bundle = path.join(build.taskRoot(fn), 'handler.mjs');
      assert.ok(existsSync(bundle), `${fn}: ${bundle} exists`);
      assert.ok(existsSync(`${bundle}.map`), `${fn}: source map exists`);
      const size = statSync(bundle).size;
      assert.ok(size <= 1024 * 1024, `${fn}: ${size} bytes ≤ 1 MB`);
      const text = readFileSync(bundle, 'utf8');
      // Minified: long lines (the only newlines left are inside template literals).
      assert.ok(size / text.split('\n').length > 2000, `${fn}: minified`);
      assert.match(text, /export\s*\{[^}]*\bas handler\b|export\s*\{\s*\w+\s+as\s+handler/, `${fn}: an ESM export named handler`);
    }
    assert.match(readFileSync(build.template, 'utf8'), /Handler: handler\.handler/);
  });

  it("packages byte for byte the bundle npm run build writes (scripts/build-function.mjs)", async () => {
    const build = samBuild();
    const out = mkdtempSync(path.join(tmpdir(), 'podiam-build-function-'));
    try {
      for (const [fn, dir] of Object.entries(SHIPPED_FUNCTIONS)) {
        const bundle = await buildFunction(dir, path.join(out, dir));

        assert.ok(readFileSync(bundle).equals(readFileSync(path.join(build.taskRoot(fn as FunctionId), 'handler.mjs'))), `${fn}: same handler.mjs`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('builds with the Makefile for every function, not a second set of esbuild options', () => {
    const template = readFileSync(path.join(repoRoot, 'template.yaml'), 'utf8');
    const makefile = readFileSync(path.join(repoRoot, 'Makefile'), 'utf8');

    assert.doesNotMatch(template, /BuildMethod: esbuild|BuildProperties:/);
    for (const [fn, dir] of Object.entries(SHIPPED_FUNCTIONS)) {
      assert.match(template, new RegExp(`\\n  ${fn}:\\n    Type: AWS::Serverless::Function\\n    Metadata:\\n(?:      #.*\\n)*      BuildMethod: makefile\\n`), fn);
      assert.match(makefile, new RegExp(`\\nbuild-${fn}:\\n\\tnode scripts/build-function\\.mjs ${dir} "\\$\\(ARTIFACTS_DIR\\)"\\n`), fn);
    }
  });
});
