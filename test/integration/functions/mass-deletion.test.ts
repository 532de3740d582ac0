// Issue 10 item 5: an empty or wrong bundle must not delete every managed role in one run. The
// reconcile function and `podiam plan` run against moto with 12 managed roles; a run that deletes
// more than the limits (10 roles, 25 %) is refused whole unless the bundle acknowledges exactly
// that number of deletions.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { run } from '../../../cli/src/main.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { buildBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import type { Bundle } from '../../../iam-model/src/bundle/bundle.ts';
import { bundleOf, service } from '../../unit/functions/fixtures.ts';
import { CLUSTER, startHarness, type Harness } from './harness.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const SERVICES = Array.from({ length: 12 }, (_, i) => service('team', `svc-${String(i + 1).padStart(2, '0')}`));

let h: Harness;

async function managedRoleNames(): Promise<string[]> {
  const out = await h.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${CLUSTER}/`, MaxItems: 1000 }));
  return (out.Roles ?? []).map((r) => r.RoleName!).sort();
}

function acknowledging(bundle: Bundle, n: number): Bundle {
  return buildBundle(bundle.guardrails, bundle.services, { acknowledgeDeletions: n });
}

async function refusal(): Promise<unknown> {
  try {
    await reconcile(h.deps, { trigger: 'test' });
  } catch (err: unknown) {
    return err;
  }
  assert.fail('reconcile did not refuse');
}

before(async () => {
  h = await startHarness();
  await h.publish(bundleOf(SERVICES));
  await reconcile(h.deps, { trigger: 'setup' });
  assert.equal((await managedRoleNames()).length, 12);
});
after(() => h?.stop());
beforeEach(() => h.calls.reset());

describe('reconcile refuses a mass deletion', () => {
  it('refuses an empty bundle that would delete all 12 managed roles, and changes nothing in IAM', async () => {
    const before = await managedRoleNames();
    await h.publish(bundleOf([]));

    const err = await refusal();

    assert.equal(h.calls.writes(), 0, `IAM writes: ${JSON.stringify(h.calls.byName())}`);
    assert.deepEqual(await managedRoleNames(), before);
    assert.equal((err as { code?: string }).code, 'PODIAM_MASS_DELETION_REFUSED');
    assert.match((err as Error).message, /deletes 12 managed role\(s\).*more than MaxRoleDeletions \(10\).*12 of 12 managed roles \(100 %\).*--acknowledge-deletions 12/);
  });

  it('refuses the whole run, the creation included, when a bundle drops 4 of the 12 roles and adds one', async () => {
    const before = await managedRoleNames();
    await h.publish(bundleOf([...SERVICES.slice(4), service('team', 'newcomer')]));

    const err = await refusal();

    assert.equal(h.calls.writes(), 0, `IAM writes: ${JSON.stringify(h.calls.byName())}`);
    assert.deepEqual(await managedRoleNames(), before);
    assert.match((err as Error).message, /4 of 12 managed roles \(33\.3 %\) is more than MaxRoleDeletionPercent \(25 %\)/);
  });

  it('deletes 3 of 12 (exactly 25 %) without an acknowledgement', async () => {
    await h.publish(bundleOf([...SERVICES.slice(0, 9)]));
    const summary = await reconcile(h.deps, { trigger: 'test' });
    assert.equal(summary.planned['delete-role'], 3);
    assert.equal((await managedRoleNames()).length, 9);
    await h.publish(bundleOf(SERVICES));
    await reconcile(h.deps, { trigger: 'restore' });
    assert.equal((await managedRoleNames()).length, 12);
  });

  it('shows the same refusal in `podiam plan` for an empty policies folder, and exits 1', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'podiam-mass-deletion-'));
    try {
      const policies = path.join(tmp, 'policies');
      mkdirSync(policies);
      const guardrails = JSON.parse(readFileSync(path.join(repo, 'policies/guardrails.json'), 'utf8')) as Record<string, unknown>;
      delete guardrails.permissionsBoundaryArn;
      guardrails.allowedAccounts = [h.moto.accountId];
      writeFileSync(path.join(policies, 'guardrails.json'), JSON.stringify(guardrails));
      const env = { AWS_ACCESS_KEY_ID: h.moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: h.moto.credentials.secretAccessKey, AWS_REGION: h.moto.region, AWS_ENDPOINT_URL: h.moto.endpoint };
      let stdout = '';
      let stderr = '';

      const code = await run(['plan', policies, '--cluster', CLUSTER, '--account-id', h.moto.accountId, '--intermediate-role-arn', h.proxyRoleArn], {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        env,
      });

      assert.equal(code, 1, stderr);
      assert.match(stdout, /12 to delete/);
      assert.match(stderr, /PODIAM_MASS_DELETION_REFUSED .*deletes 12 managed role\(s\).*--acknowledge-deletions 12/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('refuses an acknowledgement of 11 when the run deletes 12', async () => {
    await h.publish(acknowledging(bundleOf([]), 11));
    const err = await refusal();
    assert.equal(h.calls.writes(), 0);
    assert.match((err as Error).message, /acknowledges 11, not 12/);
    assert.equal((await managedRoleNames()).length, 12);
  });

  it('deletes all 12 managed roles when the bundle acknowledges exactly 12 deletions', async () => {
    await h.publish(acknowledging(bundleOf([]), 12));
    const summary = await reconcile(h.deps, { trigger: 'test' });
    assert.equal(summary.planned['delete-role'], 12);
    assert.deepEqual(await managedRoleNames(), []);
  });
});
