import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyDocument } from '../../../iam-model/src/bundle/bundle.ts';
import { evaluate, type PolicyLayer } from '../../../iam-model/src/evaluate/evaluate.ts';

const reader: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::orders/*' },
    { Sid: 'OnlyFromVpc', Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } } },
  ],
};
const layers = (doc: PolicyDocument, boundary?: PolicyDocument): PolicyLayer[] => [
  { kind: 'identity', name: 'policy', document: doc },
  ...(boundary ? [{ kind: 'boundary' as const, name: 'boundary', document: boundary }] : []),
];

describe('evaluate', () => {
  it('reports a condition on a key the context does not give as undecided, naming the key', () => {
    const r = evaluate(layers(reader), { action: 's3:GetObject', resource: 'arn:aws:s3:::orders/a' });
    assert.equal(r.decision, 'undecided');
    assert.deepEqual(r.undecidedBy, ['aws:SourceVpc']);
  });

  it('decides once the context gives the key: allowed inside the VPC, explicitly denied outside', () => {
    assert.equal(evaluate(layers(reader), { action: 's3:GetObject', resource: 'arn:aws:s3:::orders/a', context: { 'aws:SourceVpc': 'vpc-1' } }).decision, 'allowed');
    assert.equal(evaluate(layers(reader), { action: 's3:GetObject', resource: 'arn:aws:s3:::orders/a', context: { 'aws:SourceVpc': 'vpc-2' } }).decision, 'explicitDeny');
  });

  it('denies implicitly what no statement allows, even when a deny is undecided', () => {
    const r = evaluate(layers(reader), { action: 's3:PutObject', resource: 'arn:aws:s3:::orders/a' });
    assert.equal(r.decision, 'implicitDeny');
  });

  it('needs the permissions boundary to allow too', () => {
    const doc: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] };
    const boundary: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:Get*', Resource: '*' }] };
    assert.equal(evaluate(layers(doc, boundary), { action: 's3:GetObject', resource: 'arn:aws:s3:::x/y' }).decision, 'allowed');
    const put = evaluate(layers(doc, boundary), { action: 's3:PutObject', resource: 'arn:aws:s3:::x/y' });
    assert.equal(put.decision, 'implicitDeny');
    assert.match(put.reasons.join(), /boundary/);
  });

  it('treats a policy variable the context lacks as undecided, and substitutes it when given', () => {
    const doc: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::home/${aws:username}/*' }] };
    assert.equal(evaluate(layers(doc), { action: 's3:GetObject', resource: 'arn:aws:s3:::home/alice/x' }).decision, 'undecided');
    assert.equal(evaluate(layers(doc), { action: 's3:GetObject', resource: 'arn:aws:s3:::home/alice/x', context: { 'aws:username': 'alice' } }).decision, 'allowed');
    assert.equal(evaluate(layers(doc), { action: 's3:GetObject', resource: 'arn:aws:s3:::home/alice/x', context: { 'aws:username': 'bob' } }).decision, 'implicitDeny');
  });

  it('reports an unknown operator as undecided rather than guessing', () => {
    const doc: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { StringEqualz: { 'aws:username': 'a' } } }] };
    assert.equal(evaluate(layers(doc), { action: 's3:GetObject', resource: 'arn:aws:s3:::a/b', context: { 'aws:username': 'a' } }).decision, 'undecided');
  });

  it('matches IPv6 addresses against IPv6 ranges only', () => {
    const doc: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } } }] };
    const at = (ip: string) => evaluate(layers(doc), { action: 's3:GetObject', resource: 'arn:aws:s3:::a/b', context: { 'aws:SourceIp': ip } }).decision;
    assert.equal(at('2001:db8:1::5'), 'allowed');
    assert.equal(at('2001:db9::1'), 'implicitDeny');
    assert.equal(at('10.0.0.1'), 'implicitDeny');
  });
});

describe('policy variable escapes', () => {
  it('read ${*} as a literal star: in StringLike it matches only "*", in StringEquals it equals "*"', () => {
    const doc = (op: string): PolicyDocument => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { [op]: { 'aws:username': 'a${*}' } } }] });
    const as = (op: string, user: string) => evaluate(layers(doc(op)), { action: 's3:GetObject', resource: 'arn:aws:s3:::a/b', context: { 'aws:username': user } }).decision;
    assert.equal(as('StringLike', 'a*'), 'allowed');
    assert.equal(as('StringLike', 'abc'), 'implicitDeny');
    assert.equal(as('StringEquals', 'a*'), 'allowed');
  });
});
