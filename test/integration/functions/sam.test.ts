// The SAM template validates (sam validate --lint runs cfn-lint) and `sam build` turns each
// function into a minified ESM bundle with a source map. The build runs on a copy of the sources
// in a temp dir, with npm in offline mode (its cache), so it neither touches the checkout's
// node_modules nor reaches the network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireTool, toolEnv } from '../../peers/index.ts';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const FUNCTIONS = ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction'];
let work: string;
let sam: string;

function run(args: string[], cwd: string) {
  const r = spawnSync(sam, args, {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
    env: toolEnv({
      // esbuild comes from the checkout (a devDependency that SAM's --omit=dev install leaves out).
      PATH: `${path.dirname(sam)}:${path.join(repo, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    }),
  });
  return { status: r.status, out: `${r.stdout ?? ''}\n${r.stderr ?? ''}` };
}

before(() => {
  sam = requireTool('sam');
  work = mkdtempSync(path.join(tmpdir(), 'podiam-sam-'));
  const stage = path.join(work, 'stage');
  for (const p of ['template.yaml', 'samconfig.toml', 'package.json', 'package-lock.json', 'functions', 'core', 'iam-model', 'cli/src']) cpSync(path.join(repo, p), path.join(stage, p), { recursive: true });
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('SAM template and build', () => {
  it('passes sam validate --lint', () => {
    const r = run(['validate', '--lint', '--region', 'us-east-1', '--template', 'template.yaml'], path.join(work, 'stage'));
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /is a valid SAM Template/);
  });

  it('builds each function into one minified ESM bundle with a source map, under 1 MB, without aws-sdk v2', async () => {
    const build = path.join(work, 'build');
    const r = run(['build', '--build-dir', build, '--template', 'template.yaml', '--region', 'us-east-1'], path.join(work, 'stage'));
    assert.equal(r.status, 0, r.out);
    for (const fn of FUNCTIONS) {
      const bundle = path.join(build, fn, 'handler.mjs');
      assert.ok(existsSync(bundle), `${fn}: ${bundle} exists`);
      assert.ok(existsSync(`${bundle}.map`), `${fn}: source map exists`);
      const size = statSync(bundle).size;
      assert.ok(size <= 1024 * 1024, `${fn}: ${size} bytes ≤ 1 MB`);
      const text = readFileSync(bundle, 'utf8');
      // Minified: long lines (the only newlines left are inside template literals).
      assert.ok(size / text.split('\n').length > 2000, `${fn}: minified`);
      assert.ok(!/require\(["']aws-sdk["']\)|from ?["']aws-sdk["']/.test(text), `${fn}: no aws-sdk v2`);
      const mod = (await import(pathToFileURL(bundle).href)) as { handler?: unknown };
      assert.equal(typeof mod.handler, 'function', `${fn}: exports handler`);
    }
    const built = readFileSync(path.join(build, 'template.yaml'), 'utf8');
    assert.match(built, /Handler: handler\.handler/);
  });
});
