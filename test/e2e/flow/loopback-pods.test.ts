// The demo's non-root mode, end to end: no network namespaces and no iptables; the proxy listens
// on 127.0.0.1 and each pod is a process whose requests leave from its own 127.0.0.x address
// (its podIP), with AWS_EC2_METADATA_SERVICE_ENDPOINT pointing at the proxy. Runs as root too:
// the mode is chosen explicitly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { managedRoleName } from '../../../core/src/naming.ts';
import { DEMO_NAMES, DEMO_PODS, type Check } from '../../../demo/checks.ts';
import { startWorld, type World, type WorldPod } from '../../../demo/world.ts';

let world: World;

before(async () => {
  world = await startWorld({ mode: 'loopback' });
  await world.publish();
  await world.reconcile(world.bundlePublishedEvent());
  await world.startProxy();
});
after(() => world?.stop());

describe('pods on loopback source addresses (no root)', () => {
  it('gives each annotated pod its own role and the checks come out as the policies say', async () => {
    const pods: WorldPod[] = [];
    for (const spec of DEMO_PODS) pods.push(await world.createPod(spec));
    await world.waitForIndexed(pods.length);

    const runs = await Promise.all(pods.map((pod, i) => world.runInPod(pod, DEMO_PODS[i]!.checks)));

    runs.forEach((run, i) => {
      const spec = DEMO_PODS[i]!;
      assert.ok(run.ok, JSON.stringify(run));
      assert.match(pods[i]!.ip, /^127\.0\.0\.\d+$/);
      const role = managedRoleName({ cluster: DEMO_NAMES.cluster, namespace: spec.namespace, service: spec.role });
      assert.match(run.arn ?? '', new RegExp(`^arn:aws:sts::123456789012:assumed-role/${role}/${spec.namespace}\\.${spec.name}$`));
      for (const c of run.checks) assert.equal(c.outcome, c.expect, `${spec.name}: ${c.action} ${c.resource} → ${c.outcome} (${c.error ?? ''})`);
    });
  });

  it('gives a pod without the annotation no credentials at all, never the node role', async (t) => {
    const pod = await world.createPod({ namespace: 'orders', name: 'no-role-1' });
    await world.waitForIndexed(DEMO_PODS.length + 1);
    const check: Check = { action: 's3:GetObject', bucket: DEMO_NAMES.ordersBucket, key: DEMO_NAMES.orderKey, expect: 'refused' };

    const run = await world.runInPod(pod, [check]);

    t.diagnostic(`the SDK's default chain said: ${run.error ?? ''}`);
    assert.equal(run.ok, false, JSON.stringify(run));
    assert.equal(run.arn, undefined);
    assert.match(run.error ?? '', /CredentialsProviderError/, run.error);
  });
});
