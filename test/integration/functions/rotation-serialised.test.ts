// Issue 10.8: rotate ran a reconcile inline, in parallel with the reconcile function, so an older
// run that had read the rotation state before rotate wrote it could apply its stale trust after
// rotate's and undo the rotation. Now rotate asks the reconcile function for the run, and that
// function runs one execution at a time. The Lambda Invoke API is emulated on loopback (see
// reconcile-writer.ts for why); reconcile and rotate run for real against moto.
//
// The interleaving, made deterministic: an older reconcile run R is held just before it writes a
// managed role's trust (it planned that write from the state before the rotation). The rotation
// starts. R is let go as soon as the rotation either wrote that role's trust itself (the old,
// unserialised design) or was turned away because R still runs. Then both finish.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateRoleCommand, GetRoleCommand, ListRolesCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createReconcileHandler } from '../../../functions/reconcile/handler.ts';
import { createRotateHandler } from '../../../functions/rotate/handler.ts';
import { lambdaReconcileWriter } from '../../../functions/lib/reconcile-writer.ts';
import { reconcile, type ReconcileDeps } from '../../../functions/lib/reconcile.ts';
import { intermediateRolePolicy } from '../../../iam-model/src/trust.ts';
import { exampleBundle } from '../../unit/functions/fixtures.ts';
import { clientsFor, CLUSTER, startHarness, type Harness } from './harness.ts';
import { startLambdaInvokeEmulator, type LambdaInvokeEmulator } from './reconcile-writer.ts';

const proxyTrust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

let h: Harness;
let emulator: LambdaInvokeEmulator;
let lambda: LambdaClient;
let target: string;
const clients: { iam: IAMClient; destroy(): void }[] = [];

/**
 * An IAM client that reports UpdateAssumeRolePolicy on `role`: when it is about to be sent
 * (`reachedRole`, where the first one can be held) and when IAM has answered it (`wroteRole`).
 */
function watchedIam(role: string, hold?: Promise<void>) {
  const { iam, s3, sts } = clientsFor(h.moto);
  s3.destroy();
  sts.destroy();
  clients.push({ iam, destroy: () => iam.destroy() });
  let reached!: () => void;
  let wrote!: () => void;
  const reachedRole = new Promise<void>((resolve) => (reached = resolve));
  const wroteRole = new Promise<void>((resolve) => (wrote = resolve));
  let held = false;
  (iam.middlewareStack as unknown as { add(m: unknown, o: { step: 'initialize'; name: string }): void }).add(
    (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: { RoleName?: string } }) => {
      if (context.commandName === 'UpdateAssumeRolePolicyCommand' && args.input.RoleName === role) {
        reached();
        if (hold && !held) {
          held = true;
          await hold;
        }
        const out = await next(args);
        wrote();
        return out;
      }
      return next(args);
    },
    { step: 'initialize', name: 'watch-trust-writes' },
  );
  return { iam, reachedRole, wroteRole };
}

async function principals(role: string): Promise<string[]> {
  const doc = JSON.parse(decodeURIComponent((await h.iam.send(new GetRoleCommand({ RoleName: role }))).Role!.AssumeRolePolicyDocument!));
  return [doc.Statement[0].Principal.AWS].flat().sort();
}

before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'setup' });
  target = ((await h.iam.send(new ListRolesCommand({ PathPrefix: `/podiam/${CLUSTER}/` }))).Roles ?? [])[0]!.RoleName!;
});
after(async () => {
  lambda?.destroy();
  for (const c of clients) c.destroy();
  await emulator?.stop();
  await h?.stop();
});

describe('one writer of trust policies at a time', () => {
  it('keeps a rotation’s trust change when an older reconcile run is still applying its plan', { timeout: 120_000 }, async () => {
    // Prepare: the new node role, and drift on one managed role so that the older run R plans a
    // trust write there (from the state before the rotation: the old role only).
    const v2 = (await h.iam.send(new CreateRoleCommand({ RoleName: 'podiam-prod-node-proxy-v2', AssumeRolePolicyDocument: proxyTrust }))).Role!.Arn!;
    await h.iam.send(new PutRolePolicyCommand({ RoleName: 'podiam-prod-node-proxy-v2', PolicyName: 'podiam-assume-managed-roles', PolicyDocument: JSON.stringify(intermediateRolePolicy({ accountId: h.moto.accountId }, CLUSTER)) }));
    await h.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: target, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${h.moto.accountId}:root` }, Action: 'sts:AssumeRole' }] }) }));

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reconcileSide = watchedIam(target, gate);
    const reconcileDeps: ReconcileDeps = { ...h.deps, iam: reconcileSide.iam };
    emulator = await startLambdaInvokeEmulator(createReconcileHandler(reconcileDeps));
    lambda = new LambdaClient({ endpoint: emulator.endpoint, region: h.moto.region, credentials: h.moto.credentials, maxAttempts: 1 });
    const rotateSide = watchedIam(target);
    const rotate = createRotateHandler({
      ...h.deps,
      iam: rotateSide.iam,
      reconcileWriter: lambdaReconcileWriter(lambda, 'podiam-prod-ReconcileFunction', { baseMs: 20, capMs: 200, budgetMs: 100_000 }),
    });

    // Act: R starts (as the hourly schedule would invoke it) and is held at its trust write.
    const older = lambda.send(new InvokeCommand({ FunctionName: 'podiam-prod-ReconcileFunction', Payload: new TextEncoder().encode(JSON.stringify({ action: 'reconcile', trigger: 'older run' })) }));
    await reconcileSide.reachedRole;
    const rotation = rotate({ source: 'podiam', 'detail-type': 'podiam rotate', detail: { cluster: CLUSTER, action: 'begin-intermediate-rotation', newRoleArn: v2 } });
    await Promise.race([emulator.throttled, rotateSide.wroteRole]);
    release();
    const [olderAnswer, rotated] = await Promise.all([older, rotation]);

    // Assess: R applied its stale plan first, the rotation's run came after it.
    assert.equal(olderAnswer.FunctionError, undefined, new TextDecoder().decode(olderAnswer.Payload));
    assert.ok(!('rejected' in rotated), JSON.stringify(rotated));
    assert.deepEqual(await principals(target), [h.proxyRoleArn, v2].sort());
    assert.ok(emulator.refusals() >= 1, 'the rotation waited for the running reconcile');
  });
});
