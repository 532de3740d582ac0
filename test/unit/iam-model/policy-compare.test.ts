import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalPolicy, parseIamDocument, policiesEqual } from '../../../iam-model/src/policy-compare.ts';

const written = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::orders/*'] },
    { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders' },
  ],
};

describe('semantic comparison of IAM policy documents', () => {
  it('treats IAM’s URL-encoded answer as equal to the document that was written', () => {
    const fromIam = encodeURIComponent(JSON.stringify(written));
    assert.ok(fromIam.startsWith('%7B'));
    assert.ok(policiesEqual(written, fromIam));
  });

  it('treats a one-element array and its single string as the same', () => {
    const collapsed = {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::orders/*' },
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: ['arn:aws:dynamodb:us-east-1:123456789012:table/orders'] },
      ],
    };
    assert.ok(policiesEqual(written, collapsed));
  });

  it('ignores the order of statements, actions and resources, and duplicates', () => {
    const shuffled = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/orders' },
        { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::orders/*' },
      ],
    };
    assert.ok(policiesEqual(written, shuffled));
  });

  it('compares action names case-insensitively but resources exactly', () => {
    const lower = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:getobject', Resource: 'arn:aws:s3:::a/*' } };
    const upper = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'S3:GetObject', Resource: 'arn:aws:s3:::a/*' } };
    const otherBucket = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::A/*' } };
    assert.ok(policiesEqual(lower, upper));
    assert.ok(!policiesEqual(lower, otherBucket));
  });

  it('takes a missing Version as 2008-10-17, which differs from 2012-10-17', () => {
    const noVersion = { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] };
    assert.equal(canonicalPolicy(noVersion).Version, '2008-10-17');
    assert.ok(policiesEqual(noVersion, { Version: '2008-10-17', Statement: noVersion.Statement }));
    assert.ok(!policiesEqual(noVersion, { Version: '2012-10-17', Statement: noVersion.Statement }));
  });

  it('sees a real difference: an added action, another effect, a changed condition', () => {
    const base = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', Condition: { StringEquals: { 'aws:RequestTag/team': 'a' } } }] };
    assert.ok(!policiesEqual(base, { ...base, Statement: [{ ...base.Statement[0]!, Action: ['s3:GetObject', 's3:PutObject'] }] }));
    assert.ok(!policiesEqual(base, { ...base, Statement: [{ ...base.Statement[0]!, Effect: 'Deny' }] }));
    assert.ok(!policiesEqual(base, { ...base, Statement: [{ ...base.Statement[0]!, Condition: { StringEquals: { 'aws:RequestTag/team': 'b' } } }] }));
  });

  it('normalises principals: "*" equals {AWS:"*"}, an account ID equals its root ARN', () => {
    const trust = (p: unknown) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: p, Action: 'sts:AssumeRole' }] });
    assert.ok(policiesEqual(trust('*'), trust({ AWS: '*' })));
    assert.ok(policiesEqual(trust({ AWS: '123456789012' }), trust({ AWS: ['arn:aws:iam::123456789012:root'] })));
    assert.ok(!policiesEqual(trust({ AWS: 'arn:aws:iam::123456789012:role/a' }), trust({ AWS: 'AROAEXAMPLEUNIQUEID1' })));
  });

  it('compares condition key names case-insensitively and boolean values as strings', () => {
    const a = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': false } } }] };
    const b = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { Bool: { 'AWS:securetransport': 'false' } } }] };
    assert.ok(policiesEqual(a, b));
  });

  it('parses plain JSON text as well as percent-encoded text', () => {
    assert.deepEqual(parseIamDocument('{"Version":"2012-10-17","Statement":[]}'), { Version: '2012-10-17', Statement: [] });
    assert.deepEqual(parseIamDocument('%7B%22Statement%22%3A%5B%5D%7D'), { Statement: [] });
  });
});
