// The esbuild bundle (dist/cli/podiam.mjs, what bin/podiam.js runs after `npm run build`) behaves
// as the source does: it knows its version without package.json next to it, prints each command's
// help and keeps the exit codes. Built here with scripts/build.mjs's options, under .cache/ so it
// resolves node_modules as dist/ does (the AWS catalog package loads its data at run time).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { cliBundleOptions } from '../../../scripts/esbuild-options.mjs';

const repo = path.resolve(import.meta.dirname, '../../..');
const outdir = path.join(repo, '.cache', `test-cli-bundle-${process.pid}`);
const bundle = path.join(outdir, 'podiam.mjs');
const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;

function podiam(args: string[], env: NodeJS.ProcessEnv = {}) {
  // cwd is the bundle's own folder, not the repository root: the version cannot come from ./package.json.
  const r = spawnSync(process.execPath, [bundle, ...args], { cwd: outdir, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the CLI bundle', () => {
  before(async () => {
    mkdirSync(outdir, { recursive: true });
    await build({ entryPoints: [{ in: path.join(repo, 'cli/src/main.ts'), out: 'podiam' }], outdir, outExtension: { '.js': '.mjs' }, ...cliBundleOptions });
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  it("prints package.json's version, inlined at build time", () => {
    const r = podiam(['--version']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `podiam ${version}\n`, '']);
  });

  it('prints the help of each command with its exit codes', () => {
    for (const command of ['check', 'publish', 'plan']) {
      const r = podiam([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage:\\n  podiam ${command} `));
      assert.match(r.stdout, /\nExit codes:\n {2}0 {2}/);
    }
  });

  it('exits 0 on the shipped policies, 1 with every finding of a broken folder, 2 on a usage error', () => {
    const guardrails = path.join(repo, 'policies/guardrails.json');
    assert.equal(podiam(['check', path.join(repo, 'policies')]).code, 0);
    const broken = podiam(['check', path.join(repo, 'test/fixtures/policies-many-problems'), '--guardrails', guardrails, '--format', 'github']);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stdout, /\npodiam check: 2 files, 9 errors, 1 warning, 0 suggestions\n$/);
    const usage = podiam(['check', '--nope']);
    assert.deepEqual([usage.code, usage.stdout], [2, '']);
    assert.match(usage.stderr, /^podiam: PODIAM_CLI_USAGE /);
  });
});
