import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { reconcile } from '../../../functions/lib/reconcile.ts';
import { bundleOf, exampleBundle, service } from '../../unit/functions/fixtures.ts';
import { startHarness, type Harness } from './harness.ts';
import { canAssume } from './trust-simulation.ts';

let h: Harness;
let stagingProxyArn: string;

before(async () => {
  h = await startHarness();
  await h.publish(exampleBundle());
  await reconcile(h.deps, { trigger: 'test' });
  // A second cluster in the same account, with its own proxy role and bundle.
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
  stagingProxyArn = (await h.iam.send(new CreateRoleCommand({ RoleName: 'podiam-staging-node-proxy', AssumeRolePolicyDocument: trust }))).Role!.Arn!;
  const stagingKey = 'podiam/staging-bundle.json';
  const staging = { ...h.deps, config: { ...h.config, cluster: 'staging', intermediateRoleArns: [stagingProxyArn], bundleKey: stagingKey, stateKey: 'state/staging/intermediate-rotation.json' } };
  await h.s3.send(new PutObjectCommand({ Bucket: h.config.bundleBucket, Key: stagingKey, Body: JSON.stringify(bundleOf([service('orders', 'reader')])) }));
  await reconcile(staging, { trigger: 'test' });
  // An unmanaged role that trusts the whole account (so only the caller's own policy decides).
  await h.iam.send(
    new CreateRoleCommand({
      RoleName: 'admin-like',
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] }),
    }),
  );
});
after(() => h?.stop());

describe('trust links, checked with the reference IAM simulator', () => {
  it('lets the intermediate role assume every managed role of its cluster with the right namespace tag', async () => {
    for (const [role, ns] of [['prod.orders.reader', 'orders'], ['prod.orders.writer', 'orders'], ['prod.dns.updater', 'dns']] as const) {
      assert.equal(await canAssume(h.iam, h.proxyRoleArn, role, ns), 'Allowed', role);
    }
  });

  it('refuses a session tagged with another namespace', async () => {
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'prod.orders.reader', 'dns'), 'ImplicitlyDenied');
  });

  it('refuses namespace orders the role of orders-billing/x, and gives orders/billing-x a role of its own (issue 10)', async () => {
    await h.publish(bundleOf([...exampleBundle().services, service('orders', 'billing-x'), service('orders-billing', 'x')]));
    await reconcile(h.deps, { trigger: 'test' });
    // Every managed role's trust binds the namespace tag; nothing can switch it off.
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'prod.orders-billing.x', 'orders'), 'ImplicitlyDenied');
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'prod.orders-billing.x', 'orders-billing'), 'Allowed');
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'prod.orders.billing-x', 'orders-billing'), 'ImplicitlyDenied');
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'prod.orders.billing-x', 'orders'), 'Allowed');
    // Back to the example: its two roles go, which the mass-deletion guard wants acknowledged.
    const example = exampleBundle();
    await h.publish(buildBundle(example.guardrails, example.services, { acknowledgeDeletions: 2 }));
    await reconcile(h.deps, { trigger: 'test' });
  });

  it('refuses another cluster’s managed role and an unmanaged role, and the other cluster’s proxy ours', async () => {
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'staging.orders.reader', 'orders'), 'ImplicitlyDenied');
    assert.equal(await canAssume(h.iam, h.proxyRoleArn, 'admin-like', 'orders'), 'ImplicitlyDenied');
    assert.equal(await canAssume(h.iam, stagingProxyArn, 'prod.orders.reader', 'orders'), 'ImplicitlyDenied');
    assert.equal(await canAssume(h.iam, stagingProxyArn, 'staging.orders.reader', 'orders'), 'Allowed');
  });
});
