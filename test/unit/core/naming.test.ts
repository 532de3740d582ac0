import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { managedRoleArn, managedRoleName, managedRolePath, parseRoleArn, podSessionName } from '../../../core/src/naming.ts';
import { PodiamError } from '../../../core/src/errors.ts';

describe('managed role naming', () => {
  it('joins cluster, namespace and service with hyphens under /podiam/<cluster>/', () => {
    const ref = { cluster: 'prod', namespace: 'orders', service: 'reader' };
    assert.equal(managedRoleName(ref), 'prod-orders-reader');
    assert.equal(managedRolePath('prod'), '/podiam/prod/');
    assert.equal(managedRoleArn({ accountId: '123456789012' }, ref), 'arn:aws:iam::123456789012:role/podiam/prod/prod-orders-reader');
  });

  it('keeps a name of exactly 64 characters as it is', () => {
    const ref = { cluster: 'c', namespace: 'n'.repeat(30), service: 's'.repeat(31) };
    const name = managedRoleName(ref);
    assert.equal(name.length, 64);
    assert.equal(name, `c-${'n'.repeat(30)}-${'s'.repeat(31)}`);
  });

  it('shortens a name over 64 characters to its first 57, a hyphen and 6 hash characters of the full name', () => {
    const ref = { cluster: 'production-eu-west-1', namespace: 'payments-settlement', service: 'ledger-reconciliation-writer' };
    const full = 'production-eu-west-1-payments-settlement-ledger-reconciliation-writer';
    const name = managedRoleName(ref);
    assert.equal(name.length, 64);
    assert.equal(name, `${full.slice(0, 57)}-${createHash('sha256').update(full).digest('hex').slice(0, 6)}`);
  });

  it('gives different names to long names that share their first 57 characters', () => {
    const a = managedRoleName({ cluster: 'c', namespace: 'n'.repeat(50), service: 'writer-a' });
    const b = managedRoleName({ cluster: 'c', namespace: 'n'.repeat(50), service: 'writer-b' });
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 57), b.slice(0, 57));
  });

  it('rejects a service name that is not a DNS-1123 label with a stable code', () => {
    assert.throws(() => managedRoleName({ cluster: 'c', namespace: 'orders', service: 'Bad_Name' }), (err: unknown) => {
      assert.ok(err instanceof PodiamError);
      assert.equal(err.code, 'PODIAM_ROLE_NAME_INVALID');
      assert.match(err.message, /service 'Bad_Name'/);
      return true;
    });
  });
});

describe('role ARN parsing', () => {
  it('splits partition, account, path and name', () => {
    assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/podiam/prod/prod-orders-reader'), {
      partition: 'aws', accountId: '123456789012', path: '/podiam/prod/', name: 'prod-orders-reader',
      arn: 'arn:aws:iam::123456789012:role/podiam/prod/prod-orders-reader',
    });
    assert.equal(parseRoleArn('arn:aws:iam::123456789012:role/top')?.path, '/');
  });

  it('refuses ARNs of other resource types and malformed accounts', () => {
    assert.equal(parseRoleArn('arn:aws:iam::123456789012:user/alice'), undefined);
    assert.equal(parseRoleArn('arn:aws:iam::12345:role/x'), undefined);
    assert.equal(parseRoleArn('arn:aws:s3:::bucket'), undefined);
  });
});

describe('pod session names', () => {
  it('uses namespace.pod and replaces characters STS refuses', () => {
    assert.equal(podSessionName('orders', 'reader-7d9f'), 'orders.reader-7d9f');
    assert.equal(podSessionName('a', 'b c/d'), 'a.b-c-d');
  });

  it('stays within 64 characters and distinct for long pod names', () => {
    const a = podSessionName('orders', `${'x'.repeat(80)}-a`);
    const b = podSessionName('orders', `${'x'.repeat(80)}-b`);
    assert.ok(a.length <= 64 && b.length <= 64);
    assert.notEqual(a, b);
    assert.match(a, /^[\w+=,.@-]+$/);
  });
});
