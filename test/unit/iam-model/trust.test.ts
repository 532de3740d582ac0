import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { intermediateRolePolicy, revokeOlderSessionsPolicy, serviceRoleTrustPolicy } from '../../../iam-model/src/trust.ts';

const proxyRole = 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy';

describe('trust policies', () => {
  it('lets exactly the intermediate role(s) assume and tag sessions, with the namespace tag required', () => {
    const doc = serviceRoleTrustPolicy({ intermediateRoleArns: [proxyRole], requireNamespaceTag: true }, 'orders');
    assert.deepEqual(doc.Statement, [
      {
        Sid: 'PodiamNodeProxy',
        Effect: 'Allow',
        Principal: { AWS: [proxyRole] },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: { StringEquals: { 'aws:RequestTag/kubernetes-namespace': 'orders' } },
      },
    ]);
  });

  it('adds the ExternalId condition when configured and drops the tag condition when told to', () => {
    const doc = serviceRoleTrustPolicy({ intermediateRoleArns: [proxyRole, proxyRole], externalId: 'x-1', requireNamespaceTag: false }, 'orders');
    const [statement] = doc.Statement as { Principal: { AWS: string[] }; Condition: unknown }[];
    assert.deepEqual(statement!.Principal.AWS, [proxyRole]);
    assert.deepEqual(statement!.Condition, { StringEquals: { 'sts:ExternalId': 'x-1' } });
  });

  it('gives the intermediate role the cluster path and nothing more', () => {
    const doc = intermediateRolePolicy({ accountId: '123456789012' }, 'prod');
    assert.deepEqual(doc.Statement, [
      { Sid: 'AssumeThisClustersManagedRoles', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: 'arn:aws:iam::123456789012:role/podiam/prod/*' },
    ]);
  });

  it('revokes sessions issued before the given time, as IAM does', () => {
    const doc = revokeOlderSessionsPolicy(new Date('2026-11-27T12:00:00Z'));
    assert.deepEqual(doc.Statement, [
      { Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-11-27T12:00:00.000Z' } } },
    ]);
  });
});
