// The finer points of the rules, one document at a time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Guardrails } from '../../../iam-model/src/bundle/bundle.ts';
import { arnFormatToRegExp, iamCatalog } from '../../../iam-model/src/catalog/iam-catalog.ts';
import { operatorTypeProblem, resourceFits } from '../../../iam-model/src/check/catalog-rules.ts';
import { checkFileText, checkPolicies } from '../../../iam-model/src/check/check.ts';
import { collisionRules } from '../../../iam-model/src/check/name-rules.ts';
import type { Finding } from '../../../iam-model/src/check/finding.ts';
import { parseGuardrails } from '../../../iam-model/src/check/guardrails.ts';
import { SourceFile } from '../../../iam-model/src/check/source.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const guardrails: Guardrails = parseGuardrails(JSON.parse(readFileSync(path.join(repo, 'policies/guardrails.json'), 'utf8')));

function findingsOf(statements: unknown[], extra: Record<string, unknown> = {}): Finding[] {
  const findings: Finding[] = [];
  const text = JSON.stringify({ policy: { Version: '2012-10-17', Statement: statements }, ...extra }, null, 2);
  checkFileText(text, { file: 'team/app.json', bundleFile: 'policies/team/app.json', namespace: 'team', service: 'app' }, { cluster: 'dev', guardrails }, findings);
  return findings;
}
const codes = (f: Finding[]) => f.map((x) => x.code).sort();

describe('guardrail rules', () => {
  it('forbid kms:* on "*" but allow kms actions on a named key', () => {
    assert.deepEqual(codes(findingsOf([{ Effect: 'Allow', Action: 'kms:DescribeKey', Resource: '*' }])), ['PODIAM_CHECK_GUARDRAIL_ACTION']);
    assert.deepEqual(codes(findingsOf([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' }])), []);
  });

  it('see a wildcard that reaches a denied action, and ignore Deny statements', () => {
    assert.ok(codes(findingsOf([{ Effect: 'Allow', Action: 'sts:Assume*', Resource: '*' }])).includes('PODIAM_CHECK_GUARDRAIL_ACTION'));
    assert.ok(codes(findingsOf([{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::podiam-demo-orders/*' }])).includes('PODIAM_CHECK_GUARDRAIL_ACTION'));
    assert.deepEqual(codes(findingsOf([{ Effect: 'Deny', Action: 'iam:*', Resource: '*' }])), []);
  });

  it('accept a NotAction that excludes every denied action, while warning about what it still allows', () => {
    const f = codes(findingsOf([{ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'sts:AssumeRole', 'kms:*'], Resource: 'arn:aws:s3:::podiam-demo-orders/*' }]));
    assert.ok(!f.includes('PODIAM_CHECK_GUARDRAIL_ACTION'));
    assert.ok(f.includes('PODIAM_CHECK_ALLOW_NOT'));
    // Everything else stays allowed, lambda:UpdateFunctionCode and ssm:SendCommand included.
    assert.ok(f.includes('PODIAM_CHECK_PRIVILEGE_ESCALATION'));
    assert.ok(codes(findingsOf([{ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'kms:*'], Resource: '*' }])).includes('PODIAM_CHECK_GUARDRAIL_ACTION'));
  });
});

describe('catalog rules', () => {
  it('compare action names case-insensitively, as IAM does', () => {
    assert.deepEqual(codes(findingsOf([{ Effect: 'Allow', Action: 'S3:getobject', Resource: 'arn:aws:s3:::podiam-demo-orders/*' }])), []);
  });

  it('accept service condition keys with a variable part and global tag keys', () => {
    const f = findingsOf([{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::podiam-demo-orders/*', Condition: { StringEquals: { 's3:ExistingObjectTag/team': 'orders', 'aws:ResourceTag/env': 'dev', 'aws:PrincipalTag/kubernetes-namespace': 'orders' } } }]);
    assert.deepEqual(codes(f), []);
  });

  it('require Resource "*" for actions that act on no resource', () => {
    const f = findingsOf([{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: 'arn:aws:s3:::podiam-demo-orders' }]);
    assert.ok(codes(f).includes('PODIAM_CHECK_RESOURCE_MISMATCH'));
    assert.match(f.find((x) => x.code === 'PODIAM_CHECK_RESOURCE_MISMATCH')!.message, /supports only Resource "\*"/);
  });

  it('tell buckets from objects, and let "arn:aws:s3:::*" cover both', () => {
    const catalog = iamCatalog();
    const object = catalog.resourceType('s3', 'object')!;
    const bucket = catalog.resourceType('s3', 'bucket')!;
    assert.equal(resourceFits('arn:aws:s3:::orders', [object]), false);
    assert.equal(resourceFits('arn:aws:s3:::orders/*', [bucket]), false);
    assert.equal(resourceFits('arn:aws:s3:::orders/a/b.json', [object]), true);
    assert.equal(resourceFits('arn:aws:s3:::*', [object]), true);
    assert.equal(resourceFits('arn:aws:s3:::*', [bucket]), true);
    assert.equal(resourceFits('arn:aws:s3:::home/${aws:username}/*', [object]), true);
  });

  it('match ARN formats field by field', () => {
    const re = arnFormatToRegExp('arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}');
    assert.ok(re.test('arn:aws:dynamodb:us-east-1:123456789012:table/ledger'));
    assert.ok(!re.test('arn:aws:dynamodb:us-east-1:123456789012:stream/ledger'));
    assert.ok(!re.test('arn:aws:sqs:us-east-1:123456789012:table/ledger'));
  });
});

describe('expect cases and the guardrails', () => {
  it('count a guardrail-denied action as denied even when the policy allows it', () => {
    const f = findingsOf([{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::123456789012:role/x' }], {
      expect: { deny: [{ action: 'sts:AssumeRole', resource: 'arn:aws:iam::123456789012:role/x' }] },
    });
    assert.ok(!codes(f).includes('PODIAM_CHECK_EXPECT_FAILED'), JSON.stringify(f));
  });
});

describe('source positions', () => {
  it('point at the member key, 1-based, on the right line', () => {
    const src = new SourceFile('{\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": ["s3:GetObject", "s3:Nope"]\n    }\n  ]\n}\n');
    assert.deepEqual(src.locate(['Statement', 0, 'Action']), { line: 5, column: 7 });
    assert.deepEqual(src.locate(['Statement', 0, 'Action', 1]), { line: 5, column: 34 });
    assert.deepEqual(src.locate(['Statement', 0, 'Missing']), { line: 3, column: 5 });
  });

  it('report comments as syntax errors, since IAM accepts none', () => {
    const src = new SourceFile('{\n  // a comment\n  "Version": "2012-10-17"\n}');
    assert.equal(src.syntaxErrors[0]?.line, 2);
    assert.match(src.syntaxErrors[0]!.message, /comments are not allowed/);
  });
});

describe('condition operators and key types', () => {
  it('flag set operators on single-valued keys and plain operators on multi-valued ones', () => {
    assert.match(operatorTypeProblem('ForAllValues:StringEquals', 'String') ?? '', /multi-valued keys/);
    assert.match(operatorTypeProblem('StringEquals', 'ArrayOfString') ?? '', /ForAnyValue:StringEquals/);
    assert.equal(operatorTypeProblem('ForAnyValue:StringLike', 'ArrayOfString'), undefined);
  });

  it('accept String operators on ARN keys and Null on anything, but not Bool on a Date', () => {
    assert.equal(operatorTypeProblem('StringLike', 'ARN'), undefined);
    assert.equal(operatorTypeProblem('Null', 'Date'), undefined);
    assert.match(operatorTypeProblem('Bool', 'Date') ?? '', /DateGreaterThan/);
    assert.equal(operatorTypeProblem('NumericLessThanIfExists', 'Numeric'), undefined);
  });
});

describe('no false alarms', () => {
  it('raise nothing on a realistic multi-service policy (logs streams, SQS wildcards, conditions, Deny with NotAction)', () => {
    const root = path.join(repo, 'test/fixtures/policies-realistic');
    const r = checkPolicies({ root, cluster: 'dev', cwd: root });
    assert.equal(r.filesChecked, 1);
    assert.deepEqual(r.findings, []);
  });

  it('still tell a log group pattern that reaches streams from one that does not', () => {
    const stream = iamCatalog().resourceType('logs', 'log-stream')!;
    assert.equal(resourceFits('arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/orders:*', [stream]), true);
    assert.equal(resourceFits('arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/orders', [stream]), false);
    assert.equal(resourceFits('arn:aws:logs:us-east-1:123456789012:destination:*', [stream]), false);
  });
});

describe('role name collision rule (a backstop: the name scheme is one-to-one)', () => {
  it('reports every file of a role name that two files map to, naming the other file', () => {
    const reported: Array<[string, string, string]> = [];
    const file = (name: string, ns: string, svc: string, roleName: string) => ({
      file: name, namespace: ns, service: svc, roleName,
      report: (code: string, _path: unknown, message: string) => { reported.push([name, code, message]); },
    });
    collisionRules([file('x/one.json', 'x', 'one', 'dev.x.same'), file('y/two.json', 'y', 'two', 'dev.x.same'), file('z/three.json', 'z', 'three', 'dev.z.three')]);
    assert.deepEqual(reported.map(([f, c]) => [f, c]), [['x/one.json', 'PODIAM_CHECK_ROLE_NAME_COLLISION'], ['y/two.json', 'PODIAM_CHECK_ROLE_NAME_COLLISION']]);
    assert.match(reported[0]![2], /y\/two\.json .*'dev\.x\.same'/);
  });
});
