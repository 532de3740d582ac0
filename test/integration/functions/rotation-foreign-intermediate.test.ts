// Issue 10.1: one events:PutEvents (or one write of the rotation state object) used to make a role
// of any account a principal in every managed role's trust. Driven through the real rotate and
// reconcile code against moto: an intermediate ARN outside the stack's account is refused in the
// request, in the state object and by the reader, unless the stack lists it
// (ForeignIntermediateRoleArns).
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { readIntermediates } from '../../../iam-model/src/iam-reader.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { BUCKET, CLUSTER, startHarness, type Harness } from './harness.ts';
import { directReconcileWriter } from './reconcile-writer.ts';

const ATTACKER = 'arn:aws:iam::999999999999:role/attacker';
const PARTNER = 'arn:aws:iam::222222222222:role/partner-node-proxy';
const STATE_KEY = `state/${CLUSTER}/intermediate-rotation.json`;
let managed: string[];

let h: Harness;
let rotate: ReturnType<typeof createRotateHandler>;

before(async () => {
  h = await startHarness({ foreignIntermediateRoleArns: [PARTNER] });
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'setup' });
  managed = ((await h.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${CLUSTER}/` }))).Roles ?? []).map((r) => r.RoleName!);
  assert.equal(managed.length, exampleBundle().services.length);
  rotate = createRotateHandler({ ...h.deps, reconcileWriter: directReconcileWriter(h.deps) });
});
after(() => h?.stop());
beforeEach(async () => {
  await h.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: STATE_KEY }));
  h.calls.reset();
});

const rotateEvent = (detail: Record<string, unknown>) => ({ source: 'podiam', 'detail-type': 'podiam rotate', detail: { cluster: CLUSTER, ...detail } });

async function trustOfAll(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of managed) {
    const doc = JSON.parse(decodeURIComponent((await h.iam.send(new GetRoleCommand({ RoleName: name }))).Role!.AssumeRolePolicyDocument!));
    out[name] = [doc.Statement[0].Principal.AWS].flat().sort();
  }
  return out;
}

async function stateObject(): Promise<string | undefined> {
  try {
    return await (await h.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: STATE_KEY }))).Body!.transformToString();
  } catch {
    return undefined;
  }
}

describe('intermediate roles outside the stack’s account', () => {
  it('refuses a rotation to a role of another account and changes no trust policy', async () => {
    const trustBefore = await trustOfAll();

    const answer = await rotate(rotateEvent({ action: 'begin-intermediate-rotation', newRoleArn: ATTACKER }));

    assert.equal('rejected' in answer && answer.rejected.code, 'PODIAM_INTERMEDIATE_ROLE_NOT_ALLOWED');
    assert.deepEqual(await trustOfAll(), trustBefore);
    assert.ok(!JSON.stringify(await trustOfAll()).includes('999999999999'));
    assert.equal(await stateObject(), undefined, 'no rotation state was written');
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses a rotation state object naming a role of another account when reconcile or rotate reads it', async () => {
    const trustBefore = await trustOfAll();
    await h.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: STATE_KEY, Body: JSON.stringify({ added: [ATTACKER], retired: [] }) }));

    await assert.rejects(reconcile(h.deps, { trigger: 'schedule' }), { code: 'PODIAM_ROTATION_STATE_INVALID' });
    await assert.rejects(rotate(rotateEvent({ action: 'prune-intermediates' })), { code: 'PODIAM_ROTATION_STATE_INVALID' });

    assert.deepEqual(await trustOfAll(), trustBefore);
    assert.equal(h.calls.writes(), 0);
  });

  it('refuses a rotation state object that is not JSON with its own code', async () => {
    await h.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: STATE_KEY, Body: '{"added": [' }));

    await assert.rejects(reconcile(h.deps, { trigger: 'schedule' }), { code: 'PODIAM_ROTATION_STATE_INVALID' });
  });

  it('reports a role of another account as missing to the reader unless it is allowed', async () => {
    const read = await readIntermediates(h.deps.iam, [ATTACKER, PARTNER, h.proxyRoleArn], h.moto.accountId, new Set(), new Set([PARTNER]));

    assert.deepEqual(
      read.map((i) => [i.arn, i.exists]),
      [[PARTNER, true], [ATTACKER, false], [h.proxyRoleArn, true]].sort(),
    );
  });

  it('accepts a role of another account that the stack lists in ForeignIntermediateRoleArns', async () => {
    const answer = await rotate(rotateEvent({ action: 'begin-intermediate-rotation', newRoleArn: PARTNER }));

    assert.ok(!('rejected' in answer), JSON.stringify(answer));
    for (const [role, principals] of Object.entries(await trustOfAll())) assert.deepEqual(principals, [h.proxyRoleArn, PARTNER].sort(), role);
    // The scheduled reconcile reads the state it wrote and keeps it.
    h.calls.reset();
    await reconcile(h.deps, { trigger: 'schedule' });
    assert.equal(h.calls.writes(), 0);

    await rotate(rotateEvent({ action: 'finish-intermediate-rotation', oldRoleArn: PARTNER }));
    for (const [role, principals] of Object.entries(await trustOfAll())) assert.deepEqual(principals, [h.proxyRoleArn], role);
  });
});
