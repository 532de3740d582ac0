import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ROLE_NAME_HASH_CHARS, legacyManagedRoleName, managedRoleArn, managedRoleName, managedRolePath, parseRoleArn, podSessionName, type ServiceRef } from '../../../core/src/naming.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { seededRandom } from '../../support/seeded-random.ts';

describe('managed role naming', () => {
  it('joins cluster, namespace and service with dots under /podiam/<cluster>/', () => {
    const ref = { cluster: 'prod', namespace: 'orders', service: 'reader' };
    assert.equal(managedRoleName(ref), 'prod.orders.reader');
    assert.equal(managedRolePath('prod'), '/podiam/prod/');
    assert.equal(managedRoleArn({ accountId: '123456789012' }, ref), 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader');
  });

  it('gives orders + billing-x and orders-billing + x different names (issue 10: one name reached another namespace\'s role)', () => {
    const a = managedRoleName({ cluster: 'prod', namespace: 'orders', service: 'billing-x' });
    const b = managedRoleName({ cluster: 'prod', namespace: 'orders-billing', service: 'x' });
    assert.equal(a, 'prod.orders.billing-x');
    assert.equal(b, 'prod.orders-billing.x');
    assert.notEqual(a, b);
  });

  it('keeps a name of exactly 64 characters as it is', () => {
    const ref = { cluster: 'c', namespace: 'n'.repeat(30), service: 's'.repeat(31) };
    const name = managedRoleName(ref);
    assert.equal(name.length, 64);
    assert.equal(name, `c.${'n'.repeat(30)}.${'s'.repeat(31)}`);
  });

  it('shortens a name over 64 characters to its first 43, an underscore and 20 hex characters of SHA-256 of the full name', () => {
    const ref = { cluster: 'production-eu-west-1', namespace: 'payments-settlement', service: 'ledger-reconciliation-writer' };
    const full = 'production-eu-west-1.payments-settlement.ledger-reconciliation-writer';
    const name = managedRoleName(ref);
    assert.equal(name.length, 64);
    assert.equal(name, `${full.slice(0, 43)}_${createHash('sha256').update(full).digest('hex').slice(0, 20)}`);
    assert.equal(ROLE_NAME_HASH_CHARS * 4 >= 64, true);
  });

  it('gives different names to long names that share their first 43 characters', () => {
    const a = managedRoleName({ cluster: 'c', namespace: 'n'.repeat(50), service: 'writer-a' });
    const b = managedRoleName({ cluster: 'c', namespace: 'n'.repeat(50), service: 'writer-b' });
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 43), b.slice(0, 43));
  });

  it('rejects a service name that is not a DNS-1123 label with a stable code', () => {
    assert.throws(() => managedRoleName({ cluster: 'c', namespace: 'orders', service: 'Bad_Name' }), (err: unknown) => {
      assert.ok(err instanceof PodiamError);
      assert.equal(err.code, 'PODIAM_ROLE_NAME_INVALID');
      assert.match(err.message, /service 'Bad_Name'/);
      return true;
    });
  });

  it('still computes the earlier <cluster>-<ns>-<svc> shape, only to recognise roles to migrate', () => {
    assert.equal(legacyManagedRoleName({ cluster: 'prod', namespace: 'orders', service: 'reader' }), 'prod-orders-reader');
    const long = { cluster: 'production-eu-west-1', namespace: 'payments-settlement', service: 'ledger-reconciliation-writer' };
    const full = 'production-eu-west-1-payments-settlement-ledger-reconciliation-writer';
    assert.equal(legacyManagedRoleName(long), `${full.slice(0, 57)}-${createHash('sha256').update(full).digest('hex').slice(0, 6)}`);
  });
});

const random = seededRandom;

const EDGE = 'abcdefghijklmnopqrstuvwxyz0123456789';
const INNER = `${EDGE}-`;

/** A DNS-1123 label of the given length; inner characters are often '-', the adversarial case. */
function label(rnd: () => number, length: number, alphabet = EDGE): string {
  const pick = (chars: string) => chars[Math.floor(rnd() * chars.length)]!;
  if (length === 1) return pick(alphabet);
  let out = pick(alphabet);
  for (let i = 1; i < length - 1; i++) out += rnd() < 0.35 ? '-' : pick(alphabet === EDGE ? INNER : `${alphabet}-`);
  return out + pick(alphabet);
}

/** Lengths weighted to the ends: 1-3 and 55-63 are where truncation and separators meet. */
function labelLength(rnd: () => number): number {
  const r = rnd();
  if (r < 0.3) return 1 + Math.floor(rnd() * 3);
  if (r < 0.6) return 55 + Math.floor(rnd() * 9);
  return 1 + Math.floor(rnd() * 63);
}

const key = (r: ServiceRef) => `${r.cluster}/${r.namespace}/${r.service}`;

describe('managed role naming: properties over generated names', () => {
  const SEED = 20261130;
  const COUNT = 60_000;

  it('maps every generated (cluster, namespace, service) to a distinct valid IAM role name of at most 64 characters', () => {
    const rnd = random(SEED);
    const byName = new Map<string, string>();
    let shortened = 0;
    for (let i = 0; i < COUNT; i++) {
      // A small alphabet makes equal prefixes (and equal labels) common, the hard case for a hash.
      const alphabet = rnd() < 0.5 ? 'ab' : EDGE;
      const ref = { cluster: label(rnd, labelLength(rnd), alphabet), namespace: label(rnd, labelLength(rnd), alphabet), service: label(rnd, labelLength(rnd), alphabet) };
      const name = managedRoleName(ref);
      assert.ok(name.length <= 64, `${name} is longer than 64 (seed ${SEED}, case ${i})`);
      assert.match(name, /^[\w+=,.@-]{1,64}$/);
      const full = `${ref.cluster}.${ref.namespace}.${ref.service}`;
      if (full.length > 64) {
        shortened++;
        // The hash keeps at least 64 bits of SHA-256 of the full name.
        const hash = name.slice(name.lastIndexOf('_') + 1);
        assert.ok(hash.length >= 16, `${name} keeps fewer than 16 hex characters`);
        assert.equal(hash, createHash('sha256').update(full).digest('hex').slice(0, hash.length));
      } else {
        // Not shortened: splitting on '.' gives the three parts back, so no other triple has this name.
        assert.deepEqual(name.split('.'), [ref.cluster, ref.namespace, ref.service]);
      }
      const seen = byName.get(name);
      assert.ok(seen === undefined || seen === key(ref), `${seen} and ${key(ref)} both map to ${name} (seed ${SEED}, case ${i})`);
      byName.set(name, key(ref));
    }
    assert.ok(shortened > COUNT / 10, `only ${shortened} generated names were long enough to be shortened`);
  });

  it('gives every way of splitting one hyphenated string into namespace and service its own name', () => {
    const rnd = random(SEED + 1);
    for (let i = 0; i < 2_000; i++) {
      const parts = Array.from({ length: 2 + Math.floor(rnd() * 6) }, () => label(rnd, 1 + Math.floor(rnd() * 8)));
      const cluster = label(rnd, labelLength(rnd));
      const names = new Set<string>();
      const oldNames = new Set<string>();
      let splits = 0;
      for (let cut = 1; cut < parts.length; cut++) {
        const ref = { cluster, namespace: parts.slice(0, cut).join('-'), service: parts.slice(cut).join('-') };
        if (ref.namespace.length > 63 || ref.service.length > 63) continue;
        splits++;
        names.add(managedRoleName(ref));
        oldNames.add(legacyManagedRoleName(ref));
      }
      assert.equal(names.size, splits, `splits of ${parts.join('-')} share a name`);
      // The old shape gave all of them one name: that was the bug.
      if (splits > 1) assert.equal(oldNames.size, 1);
    }
  });

  it('never gives a shortened name that equals a full name, even when the service looks like a hash', () => {
    const rnd = random(SEED + 2);
    for (let i = 0; i < 2_000; i++) {
      const cluster = label(rnd, 1 + Math.floor(rnd() * 20));
      const namespace = label(rnd, 42 - cluster.length > 0 ? 42 - cluster.length : 1);
      const long = managedRoleName({ cluster, namespace, service: label(rnd, 40 + Math.floor(rnd() * 24)) });
      // The attacker names a service after the visible hash, hoping for the same 64 characters.
      const hash = long.slice(-20);
      const mimic = managedRoleName({ cluster, namespace, service: hash });
      assert.notEqual(mimic, long);
      assert.ok(!/_/.test(mimic), 'full names never contain the hash marker');
    }
  });
});

describe('role ARN parsing', () => {
  it('splits partition, account, path and name', () => {
    assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader'), {
      partition: 'aws', accountId: '123456789012', path: '/podiam/prod/', name: 'prod.orders.reader',
      arn: 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader',
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
