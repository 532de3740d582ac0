// Issue 14, item 8: the conventions of a well-behaved CLI (tflint, cfn-lint, eslint): --version,
// help per command, usage errors on stderr with exit 2, findings exit 1, clean exit 0, colours only
// on a terminal and never with NO_COLOR, and counts in the singular where there is one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { CheckResult } from '../../../iam-model/src/check/check.ts';
import { run, type Io } from '../../../cli/src/main.ts';
import { renderGithub } from '../../../cli/src/output/github.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const fixture = (name: string) => path.join(repo, 'test/fixtures/policies', name);
const guardrails = path.join(repo, 'policies/guardrails.json');
const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const ESC = '\u001b[';

async function podiam(args: string[], extra: Partial<Io> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {}, ...extra });
  return { code, stdout, stderr };
}

const commands = ['check', 'publish', 'plan'] as const;

describe('podiam --version and help', () => {
  it("prints package.json's version with --version, on stdout, exit 0", async () => {
    const r = await podiam(['--version']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `podiam ${version}\n`, '']);
  });

  it('prints the same help for `podiam <command> --help`, `-h` and `podiam help <command>`, with its options and exit codes', async () => {
    const expected: Record<(typeof commands)[number], string[]> = {
      check: ['--format human|json|github', '--json', '--cluster NAME', '--guardrails FILE'],
      publish: ['--out FILE', '--bucket BUCKET', '--key KEY', '--cluster NAME', '--guardrails FILE', '--region REGION', '--endpoint-url URL'],
      plan: ['--intermediate-role-arn ARN', '--account-id ID', '--external-id ID', '--permissions-boundary-arn ARN', '--json', '--cluster NAME', '--region REGION'],
    };
    for (const command of commands) {
      const flag = await podiam([command, '--help']);
      const short = await podiam([command, '-h']);
      const viaHelp = await podiam(['help', command]);
      assert.equal(flag.code, 0);
      assert.equal(flag.stderr, '');
      assert.equal(short.stdout, flag.stdout);
      assert.equal(viaHelp.stdout, flag.stdout);
      assert.match(flag.stdout, new RegExp(`^Usage:\\n  podiam ${command} \\[DIR\\]`));
      for (const option of expected[command]) assert.match(flag.stdout, new RegExp(`\\n  ${option.replace(/[|]/g, '\\|')} `), `${command}: ${option}`);
      assert.match(flag.stdout, /\nExit codes:\n {2}0 {2}.+\n(?: {5}.+\n)* {2}1 {2}.+\n(?: {5}.+\n)* {2}2 {2}.+\n/);
      assert.notEqual(flag.stdout, (await podiam(['help'])).stdout);
    }
  });

  it('accepts exactly the options its help lists for each command', async () => {
    const all = ['format', 'json', 'cluster', 'guardrails', 'out', 'bucket', 'key', 'region', 'endpoint-url', 'intermediate-role-arn', 'account-id', 'external-id', 'permissions-boundary-arn'];
    const switches = new Set(['json']);
    for (const command of commands) {
      const help = (await podiam([command, '--help'])).stdout;
      for (const name of all) {
        const listed = new RegExp(`\\n  --${name}\\b`).test(help);
        // A folder that does not exist stops every command before it reads or calls anything.
        const args = [command, path.join(repo, 'no-such-folder'), `--${name}`, ...(switches.has(name) ? [] : ['123456789012']), '--intermediate-role-arn', 'arn:aws:iam::123456789012:role/node'];
        const r = await podiam(command === 'plan' || name === 'intermediate-role-arn' ? args : args.slice(0, -2));
        assert.equal(/does not apply/.test(r.stderr), !listed, `${command} --${name}: ${r.stderr}`);
      }
    }
  });

  it('writes the general help on stdout for `podiam help` and `podiam --help`, exit 0', async () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const r = await podiam(args);
      assert.deepEqual([r.code, r.stderr], [0, ''], args.join(' '));
      assert.match(r.stdout, /^podiam — /);
      assert.match(r.stdout, /\nExit codes:\n {2}0 {2}clean.*\n {2}1 {2}errors found.*\n {2}2 {2}usage/);
    }
  });
});

describe('podiam usage errors and exit codes', () => {
  it('writes the usage on stderr, nothing on stdout, and exits 2 when no command is given', async () => {
    const r = await podiam([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^podiam — [\s\S]*Usage:/);
  });

  it('reports each usage error on stderr with PODIAM_CLI_USAGE and exit 2, stdout empty', async () => {
    const cases = [['check', '--nope'], ['frobnicate'], ['check', '--format', 'xml'], ['check', '--bucket', 'b'], ['check', 'a', 'b'], ['help', 'nope'], ['help', 'check', 'extra'], ['plan', 'policies'], ['check', '--cluster', 'Not_A_Label']];
    for (const args of cases) {
      const r = await podiam(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, /^podiam: PODIAM_CLI_USAGE .+`podiam help`/, args.join(' '));
    }
  });

  it('exits 2 with PODIAM_POLICIES_DIR_NOT_FOUND for a policies folder that does not exist', async () => {
    const r = await podiam(['check', path.join(repo, 'no-such-folder')]);
    assert.deepEqual([r.code, r.stdout], [2, '']);
    assert.match(r.stderr, /^podiam: PODIAM_POLICIES_DIR_NOT_FOUND /);
  });

  it('exits 0 on clean policies, 0 with only warnings, 1 with errors', async () => {
    assert.equal((await podiam(['check', path.join(repo, 'policies')])).code, 0);
    assert.equal((await podiam(['check', fixture('write-on-star/fail'), '--guardrails', guardrails])).code, 0);
    for (const format of ['human', 'json', 'github']) {
      const r = await podiam(['check', fixture('resource-mismatch/fail'), '--guardrails', guardrails, '--format', format]);
      assert.equal(r.code, 1, format);
      assert.equal(r.stderr, '', format);
    }
  });

  it('exits 1 from publish when the policies have errors, and writes no bundle', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-publish-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const out = path.join(dir, 'bundle.json');
    const r = await podiam(['publish', fixture('resource-mismatch/fail'), '--guardrails', guardrails, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_CHECK_FAILED /);
    assert.equal(existsSync(out), false);
  });
});

describe('podiam colours', () => {
  const failing = ['check', fixture('resource-mismatch/fail'), '--guardrails', guardrails];

  it('colours the human format when stdout is a terminal', async () => {
    const r = await podiam(failing, { stdoutIsTTY: true });
    assert.ok(r.stdout.includes(`${ESC}31merror${ESC}39m`), JSON.stringify(r.stdout));
  });

  it('never colours with NO_COLOR set, when stdout is not a terminal, or with TERM=dumb', async () => {
    for (const extra of [{ stdoutIsTTY: true, env: { NO_COLOR: '1' } }, { stdoutIsTTY: false }, {}, { stdoutIsTTY: true, env: { TERM: 'dumb' } }] as Partial<Io>[]) {
      const r = await podiam(failing, extra);
      assert.ok(!r.stdout.includes(ESC), JSON.stringify(extra));
      assert.match(r.stdout, / error PODIAM_CHECK_RESOURCE_MISMATCH /);
    }
  });

  it('takes an empty NO_COLOR as unset, as no-color.org says', async () => {
    const r = await podiam(failing, { stdoutIsTTY: true, env: { NO_COLOR: '' } });
    assert.ok(r.stdout.includes(ESC));
  });

  it('never colours the json and github formats, even on a terminal', async () => {
    for (const format of ['json', 'github']) {
      const r = await podiam([...failing, '--format', format], { stdoutIsTTY: true });
      assert.ok(!r.stdout.includes(ESC), format);
    }
  });
});

describe('podiam check --format github summary', () => {
  const base: CheckResult = {
    findings: [],
    services: [],
    guardrails: { deniedActions: [], allowedAccounts: [], limits: { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 10 } },
    filesChecked: 1,
    errors: 1,
    warnings: 1,
    suggestions: 1,
  };

  it('says "1 file", "1 error" for one and "2 files", "0 errors" otherwise', () => {
    assert.equal(renderGithub(base).trim(), 'podiam check: 1 file, 1 error, 1 warning, 1 suggestion');
    assert.equal(renderGithub({ ...base, filesChecked: 2, errors: 0, warnings: 3, suggestions: 0 }).trim(), 'podiam check: 2 files, 0 errors, 3 warnings, 0 suggestions');
  });
});
