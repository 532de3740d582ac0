// `podiam plan` against moto's IAM: create roles, change a file, see exactly the expected diff;
// no diff after apply. Applying uses the reconcile function's own applyPlan (functions/lib).
import assert from 'node:assert/strict';
import { managedRoleName } from '../../../core/src/naming.ts';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreatePolicyCommand, CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { applyPlan } from '../../../functions/lib/apply.ts';
import { buildBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { checkPolicies } from '../../../iam-model/src/check/check.ts';
import { run } from '../../../cli/src/main.ts';
import { computePlan } from '../../../cli/src/plan/compute-plan.ts';
import { startMoto, type MotoPeer } from '../../peers/index.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const INTERMEDIATE = 'arn:aws:iam::123456789012:role/podiam-node/dev-node-proxy';

describe('podiam plan', () => {
  let moto: MotoPeer | undefined;
  let iam: IAMClient | undefined;
  let env: Record<string, string>;
  const tmp = mkdtempSync(path.join(tmpdir(), 'podiam-plan-'));
  const policies = path.join(tmp, 'policies');
  after(async () => {
    iam?.destroy();
    await moto?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  before(async () => {
    moto = await startMoto();
    env = { AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey, AWS_REGION: moto.region, AWS_ENDPOINT_URL: moto.endpoint };
    iam = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    // What the SAM stack provides: the node proxy's (intermediate) role and the workload boundary.
    await iam.send(new CreateRoleCommand({ RoleName: 'dev-node-proxy', Path: '/podiam-node/', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    await iam.send(new CreatePolicyCommand({ PolicyName: 'podiam-workload-boundary', Path: '/podiam/', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) }));
    cpSync(path.join(repo, 'policies'), policies, { recursive: true });
  });

  async function plan(extra: string[] = []) {
    let stdout = '';
    let stderr = '';
    const code = await run(['plan', policies, '--cluster', 'dev', '--intermediate-role-arn', INTERMEDIATE, ...extra], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
    assert.equal(code, 0, stderr);
    return stdout;
  }

  async function apply() {
    const r = checkPolicies({ root: policies, cluster: 'dev' });
    const { plan: p } = await computePlan(iam!, buildBundle(r.guardrails, r.services), { cluster: 'dev', accountId: '123456789012', intermediateRoleArns: [INTERMEDIATE] });
    const result = await applyPlan(iam!, p.changes, { cluster: 'dev' });
    assert.deepEqual(result.failures, []);
  }

  function editReader(edit: (doc: { policy: { Statement: Array<{ Sid: string; Action: string | string[] }> } }) => void) {
    const file = path.join(policies, 'orders/reader.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    edit(doc);
    writeFileSync(file, JSON.stringify(doc, null, 2));
  }

  it('plans every role as a creation when IAM has none, and the intermediate role policy', async () => {
    const doc = JSON.parse(await plan(['--json'])) as { summary: Record<string, number>; changes: Array<{ kind: string; roleName: string }> };
    assert.deepEqual(doc.summary, { create: 3, update: 1, delete: 0, unchanged: 0 });
    assert.deepEqual(doc.changes.map((c) => `${c.kind} ${c.roleName}`), [
      'create-role dev.dns.updater',
      'create-role dev.orders.ledger',
      'create-role dev.orders.reader',
      'put-intermediate-policy dev-node-proxy',
    ]);
    const text = await plan();
    assert.match(text, /^ {2}\+ role dev.orders.reader \(policies\/orders\/reader\.json\)$/m);
    assert.match(text, /path \/podiam\/dev\/, max session 3600 s, boundary arn:aws:iam::123456789012:policy\/podiam\/podiam-workload-boundary/);
    assert.match(text, /^Plan: 3 to create, 1 to update, 0 to delete; 0 unchanged\.$/m);
  });

  it('shows no changes once the plan is applied', async () => {
    await apply();
    const role = await iam!.send(new GetRoleCommand({ RoleName: 'dev.orders.reader' }));
    assert.equal(role.Role?.Path, '/podiam/dev/');
    assert.match(await plan(), /^No changes\. 3 roles match the policies\.$/m);
  });

  it('ignores edits that do not change the meaning: statement order, key order, one-element arrays', async () => {
    editReader((doc) => {
      doc.policy.Statement.reverse();
      const list = doc.policy.Statement.find((s) => s.Sid === 'ListOrders')!;
      list.Action = [list.Action as string];
    });
    assert.match(await plan(), /^No changes\./m);
  });

  it('shows exactly the changed line of an edited policy', async () => {
    editReader((doc) => {
      const read = doc.policy.Statement.find((s) => s.Sid === 'ReadOrders')!;
      read.Action = [...(read.Action as string[]), 's3:GetObjectTagging'];
    });
    const text = await plan();
    const changed = text.split('\n').filter((l) => /^\s+[+-] /.test(l) || /^ {2}[~+-] /.test(l));
    assert.deepEqual(changed, [
      '  ~ role dev.orders.reader: inline policy podiam-service-policy (inline policy differs)',
      '        +         "s3:getobjecttagging"',
    ]);
    assert.match(text, /^Plan: 0 to create, 1 to update, 0 to delete; 2 unchanged\.$/m);
    await apply();
    assert.match(await plan(), /^No changes\./m);
  });

  it('plans a trust update of every role when a second node proxy role is trusted, showing the added principal', async () => {
    const second = 'arn:aws:iam::123456789012:role/podiam-node/dev-node-proxy-next';
    await iam!.send(new CreateRoleCommand({ RoleName: 'dev-node-proxy-next', Path: '/podiam-node/', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const doc = JSON.parse(await plan(['--intermediate-role-arn', second, '--json'])) as { changes: Array<{ kind: string; roleName: string }> };
    assert.deepEqual(doc.changes.map((c) => `${c.kind} ${c.roleName}`), [
      'update-trust dev.dns.updater',
      'update-trust dev.orders.ledger',
      'update-trust dev.orders.reader',
      'put-intermediate-policy dev-node-proxy-next',
    ]);
    const text = await plan(['--intermediate-role-arn', second]);
    const block = text.slice(text.indexOf('  ~ role dev.orders.reader: trust policy (trust policy differs)'), text.indexOf('  ~ intermediate role'));
    assert.deepEqual(block.split('\n').filter((l) => /^ {8}[+-] /.test(l)).map((l) => l.trim().replace(/\s+/g, ' ')), [
      '+ "arn:aws:iam::123456789012:role/podiam-node/dev-node-proxy-next"',
    ]);
  });

  it('plans a deletion when a file is removed, and only for roles it manages', async () => {
    rmSync(path.join(policies, 'dns/updater.json'));
    // A role under the cluster path without podiam's tags is someone else's: never deleted.
    await iam!.send(new CreateRoleCommand({ RoleName: 'dev-unmanaged', Path: '/podiam/dev/', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const doc = JSON.parse(await plan(['--json'])) as { summary: Record<string, number>; changes: Array<{ kind: string; roleName: string }> };
    assert.deepEqual(doc.changes.map((c) => `${c.kind} ${c.roleName}`), ['delete-role dev.dns.updater']);
    assert.deepEqual(doc.summary, { create: 0, update: 0, delete: 1, unchanged: 2 });
    assert.match(await plan(), /^ {2}- role dev.dns.updater: dns\/updater is no longer in the bundle$/m);
  });

  it('reports a collision, and plans no creation, when the role name is taken by a role it does not manage', async () => {
    writeFileSync(path.join(policies, 'orders/billing.json'), readFileSync(path.join(policies, 'orders/reader.json')));
    const name = managedRoleName({ cluster: 'dev', namespace: 'orders', service: 'billing' });
    await iam!.send(new CreateRoleCommand({ RoleName: name, Path: '/', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const doc = JSON.parse(await plan(['--json'])) as { changes: Array<{ kind: string; roleName: string }>; collisions: Array<{ roleName: string; file: string }> };
    assert.deepEqual(doc.collisions.map((c) => [c.roleName, c.file]), [[name, 'policies/orders/billing.json']]);
    assert.ok(!doc.changes.some((c) => c.roleName === name));
    assert.match(await plan(), new RegExp(`^ {2}! role ${name.replace(/\./g, '\\.')} \\(policies/orders/billing\\.json\\): .*never adopted`, 'm'));
  });

  it('refuses to plan without an intermediate role ARN (usage, exit 2)', async () => {
    let stderr = '';
    const code = await run(['plan', policies, '--cluster', 'dev'], { stdout: () => {}, stderr: (t) => (stderr += t), env });
    assert.equal(code, 2);
    assert.match(stderr, /PODIAM_CLI_USAGE .*--intermediate-role-arn/);
  });
});
