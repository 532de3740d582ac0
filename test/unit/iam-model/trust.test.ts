import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { intermediateRolePolicy, revokeOlderSessionsPolicy, serviceRoleTrustPolicy } from '../../../iam-model/src/trust.ts';

const proxyRole = 'arn:aws:iam::123456789012:role/podiam-prod-node-proxy';

describe('trust policies', () => {
  it('lets exactly the intermediate role(s) assume and tag sessions, with the namespace tag required', () => {
    const doc = serviceRoleTrustPolicy({ intermediateRoleArns: [proxyRole] }, 'orders');
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

  it('adds the ExternalId condition when configured, next to the namespace tag condition', () => {
    const doc = serviceRoleTrustPolicy({ intermediateRoleArns: [proxyRole, proxyRole], externalId: 'x-1' }, 'orders');
    const [statement] = doc.Statement as { Principal: { AWS: string[] }; Condition: unknown }[];
    assert.deepEqual(statement!.Principal.AWS, [proxyRole]);
    assert.deepEqual(statement!.Condition, { StringEquals: { 'sts:ExternalId': 'x-1', 'aws:RequestTag/kubernetes-namespace': 'orders' } });
  });

  it('binds the namespace session tag in every managed role\'s trust, whatever the settings (no switch turns it off)', () => {
    const settings = [{ intermediateRoleArns: [proxyRole] }, { intermediateRoleArns: [proxyRole], externalId: 'x-1' }, { intermediateRoleArns: [proxyRole], externalId: '' }];
    for (const s of settings) {
      for (const namespace of ['orders', 'orders-billing', 'a']) {
        const [statement] = serviceRoleTrustPolicy(s, namespace).Statement as { Condition?: { StringEquals?: Record<string, string> } }[];
        assert.equal(statement!.Condition?.StringEquals?.['aws:RequestTag/kubernetes-namespace'], namespace);
      }
    }
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
