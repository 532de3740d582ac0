import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { run } from '../../../cli/src/main.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const fixture = (name: string) => path.join(repo, 'test/fixtures/policies', name);
const guardrails = path.join(repo, 'policies/guardrails.json');

async function podiam(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
  return { code, stdout, stderr };
}

describe('podiam check (CLI)', () => {
  it('exits 0 on the shipped policies', async () => {
    const r = await podiam(['check', path.join(repo, 'policies')]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /3 files checked.*0 errors/);
  });

  it('exits 1 on errors and prints file:line:column, severity, code and the fix', async () => {
    const r = await podiam(['check', fixture('resource-mismatch/fail'), '--guardrails', guardrails]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /team\/app\.json:7:7 error PODIAM_CHECK_RESOURCE_MISMATCH \$\.Statement\[0\]\.Action\n\s+'s3:GetObject' applies to none of this statement's resources.*arn:aws:s3:::\$\{BucketName\}\/\$\{ObjectName\}/);
  });

  it('exits 0 when there are only warnings', async () => {
    const r = await podiam(['check', fixture('write-on-star/fail'), '--guardrails', guardrails]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /warning PODIAM_CHECK_WRITE_ON_STAR/);
  });

  it('writes --json as one document with every finding', async () => {
    const r = await podiam(['check', fixture('sid-duplicate/fail'), '--guardrails', guardrails, '--json']);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout) as { errors: number; findings: { code: string; line: number; column: number; path: string }[] };
    assert.equal(doc.errors, 1);
    assert.deepEqual(doc.findings.map((f) => [f.code, f.path]), [['PODIAM_CHECK_SID_DUPLICATE', '$.Statement[1].Sid']]);
    assert.ok(doc.findings[0]!.line > 1);
  });

  it('writes --format github as workflow annotations with escaped properties', async () => {
    const r = await podiam(['check', fixture('guardrail-action/fail'), '--guardrails', guardrails, '--format', 'github']);
    assert.equal(r.code, 1);
    const line = r.stdout.split('\n').find((l) => l.startsWith('::error '));
    assert.ok(line, r.stdout);
    assert.match(line, /^::error file=[^,]*team\/app\.json,line=\d+,col=\d+,title=PODIAM_CHECK_GUARDRAIL_ACTION::\$\.Statement\[1\]\.Action: 'organizations:ListAccounts' is denied by the guardrails' rule 'organizations:\*'/);
  });

  it('takes the cluster name from --cluster, else PODIAM_CLUSTER_NAME, for the 64-character rule', async () => {
    const dir = fixture('role-name-hashed/pass');
    // The longest cluster name the naming scheme allows (MAX_CLUSTER_NAME_LENGTH, 42).
    const long = 'a-very-long-cluster-name-for-the-productio';
    assert.doesNotMatch((await podiam(['check', dir, '--guardrails', guardrails])).stdout, /ROLE_NAME_HASHED/);
    assert.match((await podiam(['check', dir, '--guardrails', guardrails], { PODIAM_CLUSTER_NAME: long })).stdout, /ROLE_NAME_HASHED/);
    assert.match((await podiam(['check', dir, '--guardrails', guardrails, '--cluster', long])).stdout, /ROLE_NAME_HASHED/);
  });

  it('exits 2 with a stable code on usage errors', async () => {
    for (const args of [['check', '--nope'], ['frobnicate'], ['check', '--format', 'xml'], ['check', '--bucket', 'b'], ['check', 'a', 'b'], []]) {
      const r = await podiam(args);
      assert.equal(r.code, 2, args.join(' '));
      if (args.length) assert.match(r.stderr, /^podiam: PODIAM_CLI_USAGE .*podiam help/);
    }
    const missing = await podiam(['check', path.join(repo, 'no-such-folder')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /PODIAM_POLICIES_DIR_NOT_FOUND/);
  });

  it('reports an unreadable guardrails file with its own code', async () => {
    const r = await podiam(['check', path.join(repo, 'policies'), '--guardrails', path.join(repo, 'package.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_GUARDRAILS_INVALID .*package\.json: unknown member\(s\) 'name'/);
  });

  it('names any other failure PODIAM_CLI_UNEXPECTED with its cause, exit 1', async () => {
    // --out below a regular file: the write fails with ENOTDIR.
    const r = await podiam(['publish', path.join(repo, 'policies'), '--out', path.join(repo, 'package.json', 'bundle.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_CLI_UNEXPECTED (ENOTDIR|EEXIST)/);
  });

  it('runs as `node bin/podiam.js`, the command npm run policies:check uses', () => {
    const r = spawnSync(process.execPath, [path.join(repo, 'bin/podiam.js'), 'check', 'policies'], { cwd: repo, encoding: 'utf8', env: { ...process.env, PODIAM_CLI_FROM_SOURCE: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /3 files checked/);
  });
});
