// The mass-deletion guard's arithmetic (issue 10 item 5): more than 10 deletions, or more than
// 25 % of the cluster's managed roles, is refused unless the bundle acknowledges exactly that many.
// And the acknowledgement is part of the bundle's hash, so it cannot be added after publishing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkDeletions, DEFAULT_DELETION_LIMITS, exceededLimits, guardDeletions, MassDeletionRefusedError } from '../../../iam-model/src/deletion-guard.ts';
import { buildBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { parseBundle } from '../../../iam-model/src/bundle/parse-bundle.ts';
import { serializeBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { bundleOf, service } from '../functions/fixtures.ts';

const limits = DEFAULT_DELETION_LIMITS;

describe('mass-deletion limits', () => {
  it('defaults to more than 10 roles or more than 25 %', () => {
    assert.deepEqual({ ...DEFAULT_DELETION_LIMITS }, { maxRoleDeletions: 10, maxRoleDeletionPercent: 25 });
  });

  it('allows 10 deletions of 1,000 roles and refuses 11', () => {
    assert.deepEqual(exceededLimits(10, 1000, limits), []);
    assert.deepEqual(exceededLimits(11, 1000, limits), ['11 deletions is more than MaxRoleDeletions (10)']);
  });

  it('allows exactly 25 % (3 of 12, 1 of 4) and refuses anything above (4 of 12, 2 of 4)', () => {
    assert.deepEqual(exceededLimits(3, 12, limits), []);
    assert.deepEqual(exceededLimits(1, 4, limits), []);
    assert.deepEqual(exceededLimits(4, 12, limits), ['4 of 12 managed roles (33.3 %) is more than MaxRoleDeletionPercent (25 %)']);
    assert.equal(exceededLimits(2, 4, limits).length, 1);
  });

  it('names both limits when both are exceeded (12 of 12)', () => {
    assert.deepEqual(exceededLimits(12, 12, limits), ['12 deletions is more than MaxRoleDeletions (10)', '12 of 12 managed roles (100 %) is more than MaxRoleDeletionPercent (25 %)']);
  });

  it('never refuses a single deletion on the share alone (1 of 3), only on the count', () => {
    assert.deepEqual(exceededLimits(1, 3, limits), []);
    assert.deepEqual(exceededLimits(1, 1, limits), []);
    assert.equal(exceededLimits(2, 3, limits).length, 1);
    assert.equal(exceededLimits(1, 3, { maxRoleDeletions: 0, maxRoleDeletionPercent: 25 }).length, 1);
  });

  it('applies only the count to a scoped run, whose share of the cluster is unknown', () => {
    assert.deepEqual(exceededLimits(1, undefined, limits), []);
    assert.equal(exceededLimits(11, undefined, limits).length, 1);
  });

  it('never refuses a run without deletions, even with no managed roles', () => {
    assert.deepEqual(exceededLimits(0, 0, limits), []);
    assert.deepEqual(exceededLimits(0, 12, { maxRoleDeletions: 0, maxRoleDeletionPercent: 0 }), []);
  });

  it('takes other limits: 100 % turns the share off, 0 refuses any deletion', () => {
    assert.deepEqual(exceededLimits(5, 5, { maxRoleDeletions: 10, maxRoleDeletionPercent: 100 }), []);
    assert.equal(exceededLimits(1, 1000, { maxRoleDeletions: 0, maxRoleDeletionPercent: 100 }).length, 1);
  });
});

describe('acknowledging a mass deletion', () => {
  it('refuses 12 of 12 without an acknowledgement, saying the number to acknowledge', () => {
    const v = checkDeletions(12, 12, limits, undefined);
    assert.equal(v.kind, 'refused');
    assert.match(v.kind === 'refused' ? v.message : '', /deletes 12 managed role\(s\).*acknowledges no deletions\. Nothing was changed\..*--acknowledge-deletions 12/);
  });

  it('accepts an acknowledgement of exactly that number and no other', () => {
    assert.equal(checkDeletions(12, 12, limits, 12).kind, 'acknowledged');
    assert.equal(checkDeletions(12, 12, limits, 11).kind, 'refused');
    assert.equal(checkDeletions(12, 12, limits, 13).kind, 'refused');
    assert.match((checkDeletions(40, 50, limits, 12) as { message: string }).message, /acknowledges 12, not 40/);
  });

  it('throws PODIAM_MASS_DELETION_REFUSED (409) from guardDeletions when refused', () => {
    assert.throws(() => guardDeletions(12, 12, limits, undefined), (err: unknown) => err instanceof MassDeletionRefusedError && err.code === 'PODIAM_MASS_DELETION_REFUSED' && err.status === 409);
    assert.equal(guardDeletions(2, 12, limits, undefined).kind, 'within-limits');
  });
});

describe('the acknowledgement in the bundle', () => {
  const base = bundleOf([service('orders', 'reader')]);

  it('keeps the hash of a bundle without one, and changes it with one', () => {
    assert.equal(buildBundle(base.guardrails, base.services).hash, base.hash);
    const acked = buildBundle(base.guardrails, base.services, { acknowledgeDeletions: 12 });
    assert.equal(acked.acknowledgeDeletions, 12);
    assert.notEqual(acked.hash, base.hash);
    assert.equal(parseBundle(serializeBundle(acked)).acknowledgeDeletions, 12);
  });

  it('refuses a bundle whose acknowledgement was added or changed after publishing', () => {
    const added = { ...JSON.parse(serializeBundle(base)), acknowledgeDeletions: 12 };
    assert.throws(() => parseBundle(JSON.stringify(added)), { code: 'PODIAM_BUNDLE_INVALID', message: /content hash/ });
    const changed = { ...JSON.parse(serializeBundle(buildBundle(base.guardrails, base.services, { acknowledgeDeletions: 12 }))), acknowledgeDeletions: 40 };
    assert.throws(() => parseBundle(JSON.stringify(changed)), { code: 'PODIAM_BUNDLE_INVALID', message: /content hash/ });
  });

  it('refuses an acknowledgement that is not a whole number', () => {
    for (const bad of [-1, 1.5, '12']) {
      const raw = { ...JSON.parse(serializeBundle(base)), acknowledgeDeletions: bad };
      assert.throws(() => parseBundle(JSON.stringify(raw)), { code: 'PODIAM_BUNDLE_INVALID', message: /acknowledgeDeletions must be a whole number/ });
    }
  });
});
