// Issue 14, item 7: `podiam check` used to stop a file at its first schema error, so a file with
// several problems took one edit-and-run round per problem. Now every rule runs on the parts of a
// file that have the right shape, and every finding of every file comes out of one run.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Guardrails } from '../../../iam-model/src/bundle/bundle.ts';
import { checkFileText, checkPolicies } from '../../../iam-model/src/check/check.ts';
import type { Finding } from '../../../iam-model/src/check/finding.ts';
import { parseGuardrails } from '../../../iam-model/src/check/guardrails.ts';
import { run } from '../../../cli/src/main.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const root = path.join(repo, 'test/fixtures/policies-many-problems');
const guardrailsFile = path.join(repo, 'policies/guardrails.json');
const guardrails: Guardrails = parseGuardrails(JSON.parse(readFileSync(guardrailsFile, 'utf8')));

function checkText(text: string): { findings: Finding[]; service: unknown } {
  const findings: Finding[] = [];
  const one = checkFileText(text, { file: 'team/app.json', bundleFile: 'policies/team/app.json', namespace: 'team', service: 'app' }, { cluster: 'dev', guardrails }, findings);
  return { findings, service: one.service };
}

/** The line (1-based) of the n-th line of `text` that contains `needle`. */
function lineOf(text: string, needle: string, nth = 1): number {
  let seen = 0;
  const index = text.split('\n').findIndex((l) => l.includes(needle) && ++seen === nth);
  assert.ok(index >= 0, `no line with ${needle}`);
  return index + 1;
}

describe('podiam check reports every finding of every file in one run', () => {
  it('reports a schema error, unknown actions, guardrail violations, a duplicate key and a bad expect case of two files, each at its line:column', () => {
    const result = checkPolicies({ root, cluster: 'dev', guardrailsFile, cwd: root });
    const got = result.findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.code} ${f.path}`);
    assert.deepEqual(got, [
      'billing/ledger.json:5:36 PODIAM_CHECK_GUARDRAIL_ACTION $.Statement.Action[1]',
      'billing/ledger.json:6:5 PODIAM_CHECK_WRITE_ON_STAR $.Statement.Resource',
      'billing/ledger.json:7:5 PODIAM_CHECK_SCHEMA $.Statement.Conditions',
      'orders/reader.json:3:3 PODIAM_CHECK_SCHEMA $.owner',
      'orders/reader.json:10:36 PODIAM_CHECK_ACTION_UNKNOWN $.policy.Statement[0].Action[1]',
      'orders/reader.json:17:9 PODIAM_CHECK_DUPLICATE_KEY $.policy.Statement[1].Action',
      'orders/reader.json:17:9 PODIAM_CHECK_GUARDRAIL_ACTION $.policy.Statement[1].Action',
      'orders/reader.json:23:9 PODIAM_CHECK_ACTION_UNKNOWN $.policy.Statement[2].Action',
      'orders/reader.json:24:9 PODIAM_CHECK_SCHEMA $.policy.Statement[2].Resource',
      'orders/reader.json:31:7 PODIAM_CHECK_EXPECT_INVALID $.expect.allow[1]',
    ]);
    assert.equal(result.errors, 9);
    assert.equal(result.filesChecked, 2);
  });

  it('runs the other rules on a file whose only schema error is an unknown top-level member', () => {
    const text = JSON.stringify({ owner: 'team', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObjekt', Resource: '*' }] } }, null, 2);
    const codes = checkText(text).findings.map((f) => f.code).sort();
    assert.deepEqual(codes, ['PODIAM_CHECK_ACTION_UNKNOWN', 'PODIAM_CHECK_SCHEMA']);
  });

  it('reports a duplicated key at the later copy, and findings about that member at the copy that counts', () => {
    const text = readFileSync(path.join(root, 'orders/reader.json'), 'utf8');
    const { findings } = checkText(text);
    const second = lineOf(text, '"Action": "organizations:ListAccounts"');
    assert.equal(second, lineOf(text, '"Action": "s3:ListAllMyBuckets"') + 1);
    const dup = findings.find((f) => f.code === 'PODIAM_CHECK_DUPLICATE_KEY');
    assert.deepEqual([dup?.line, dup?.path], [second, '$.policy.Statement[1].Action']);
    // JSON.parse keeps the later copy, so the guardrail finding is about it and points at it.
    const guardrail = findings.find((f) => f.code === 'PODIAM_CHECK_GUARDRAIL_ACTION');
    assert.equal(guardrail?.line, second);
    assert.match(guardrail!.message, /'organizations:ListAccounts'/);
  });

  it('keeps a file that fails the schema out of the services to publish, however many other rules ran on it', () => {
    const result = checkPolicies({ root, cluster: 'dev', guardrailsFile, cwd: root });
    assert.deepEqual(result.services, []);
    const { service } = checkText(JSON.stringify({ owner: 'team', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::podiam-demo-orders/*' }] } }));
    assert.equal(service, undefined);
  });

  it('does not evaluate expect cases against statements the schema rejects, but still checks the cases themselves', () => {
    // "Condtion" is not a member IAM knows: read without it, the statement would allow every object.
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: ['arn:aws:s3:::podiam-demo-orders/*', 5], Condtion: { StringEquals: { 'aws:ResourceTag/team': 'orders' } } };
    const deny = [
      { action: 's3:GetObject', resource: 'arn:aws:s3:::podiam-demo-orders/a.json', context: { 'aws:ResourceTag/team': 'billing' } },
      { action: 's3:GetObjekt', resource: 'arn:aws:s3:::podiam-demo-orders/a.json' },
    ];
    const codes = checkText(JSON.stringify({ policy: { Version: '2012-10-17', Statement: [statement] }, expect: { deny } })).findings.map((f) => `${f.code} ${f.path}`);
    assert.ok(codes.includes('PODIAM_CHECK_SCHEMA $.policy.Statement[0].Condtion'), codes.join('\n'));
    assert.ok(codes.includes('PODIAM_CHECK_EXPECT_INVALID $.expect.deny[1]'), codes.join('\n'));
    assert.ok(!codes.some((c) => c.startsWith('PODIAM_CHECK_EXPECT_FAILED') || c.startsWith('PODIAM_CHECK_EXPECT_UNDECIDED')), codes.join('\n'));
  });

  it('does not crash on members of the wrong shape, and reports each through the schema', () => {
    const policy = (Statement: unknown) => ({ policy: { Version: '2012-10-17', Statement } });
    const shapes: unknown[] = [
      [],
      'a string',
      { policy: 5 },
      policy(5),
      policy([null, 'x', 5, [], {}]),
      policy([{ Sid: 7, Effect: 5, Action: {}, Resource: [1, null, '*'], Condition: 'x', Principal: '*' }]),
      policy([{ Effect: 'Allow', Action: ['s3:GetObject', 5], Resource: '', Condition: { StringEquals: 5, StringLike: { 's3:prefix': {} }, Bool: [] } }]),
      policy([{ Effect: 'Allow', NotAction: 5, Resource: '*' }]),
      policy([{ Effect: 'Allow', Action: [], NotResource: {} }]),
      { ...policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), expect: 5 },
      { ...policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), expect: { allow: 5, deny: [5, null, { action: 5 }, { action: 's3:GetObject', resource: '*', context: 5 }, { action: 'x', resource: {} }] } },
      { ...policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), managedPolicyArns: [5, 'arn:aws:iam::999999999999:policy/x'], maxSessionDuration: 'long' },
      { ...policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), managedPolicyArns: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    ];
    for (const shape of shapes) {
      const text = JSON.stringify(shape, null, 2);
      let findings: Finding[] = [];
      assert.doesNotThrow(() => ({ findings } = checkText(text)), text);
      assert.ok(findings.some((f) => f.code === 'PODIAM_CHECK_SCHEMA'), `no schema finding for ${text}`);
      for (const f of findings) assert.ok(f.line >= 1 && f.column >= 1, `${f.code} at ${f.line}:${f.column}`);
    }
  });

  it('treats a broken NotAction as unknown: no guardrail or escalation finding from a list it cannot read', () => {
    const codes = checkText(JSON.stringify({ policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotAction: 5, Resource: '*' }] } })).findings.map((f) => f.code);
    assert.ok(codes.includes('PODIAM_CHECK_SCHEMA'));
    assert.ok(!codes.includes('PODIAM_CHECK_GUARDRAIL_ACTION') && !codes.includes('PODIAM_CHECK_PRIVILEGE_ESCALATION') && !codes.includes('PODIAM_CHECK_PASSROLE_STAR'), codes.join(', '));
    // A broken Action is present, not missing: no "give exactly one of Action or NotAction".
    const broken = checkText(JSON.stringify({ policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 5, Resource: '*' }] } })).findings.map((f) => f.code);
    assert.deepEqual(broken, ['PODIAM_CHECK_SCHEMA']);
  });

  it('exits 1 from the CLI with every finding of both files on stdout', async () => {
    let stdout = '';
    const code = await run(['check', root, '--guardrails', guardrailsFile], { stdout: (t) => (stdout += t), stderr: () => {}, env: {} });
    assert.equal(code, 1);
    assert.match(stdout, /2 files checked in \d+ ms: 9 errors, 1 warning, 0 suggestions\./);
    assert.equal(stdout.match(/ error PODIAM_CHECK_/g)?.length, 9);
  });
});
