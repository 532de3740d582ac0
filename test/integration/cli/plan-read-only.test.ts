// `podiam plan` needs only read access: it runs with a user that may call IAM Get*/List* and
// sts:GetCallerIdentity and nothing else, with moto enforcing IAM.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { run } from '../../../cli/src/main.ts';
import { startMoto, type MotoPeer } from '../../peers/index.ts';

const repo = path.resolve(import.meta.dirname, '../../..');

describe('podiam plan with read-only credentials', () => {
  let moto: MotoPeer | undefined;
  let admin: IAMClient | undefined;
  let readOnly: { accessKeyId: string; secretAccessKey: string };
  after(async () => {
    admin?.destroy();
    await moto?.stop();
  });

  before(async () => {
    moto = await startMoto({ enforceIam: true });
    admin = new IAMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    await admin.send(new CreateRoleCommand({ RoleName: 'dev-node-proxy', Path: '/podiam-node/', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    await admin.send(new CreateUserCommand({ UserName: 'planner' }));
    await admin.send(new PutUserPolicyCommand({
      UserName: 'planner',
      PolicyName: 'read-only',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:Get*', 'iam:List*', 'sts:GetCallerIdentity'], Resource: '*' }] }),
    }));
    const key = await admin.send(new CreateAccessKeyCommand({ UserName: 'planner' }));
    readOnly = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  });

  async function plan(creds: { accessKeyId: string; secretAccessKey: string }) {
    let stdout = '';
    let stderr = '';
    const env = { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_REGION: moto!.region, AWS_ENDPOINT_URL: moto!.endpoint };
    const code = await run(['plan', path.join(repo, 'policies'), '--cluster', 'dev', '--intermediate-role-arn', 'arn:aws:iam::123456789012:role/podiam-node/dev-node-proxy'], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env });
    return { code, stdout, stderr };
  }

  it('plans with Get/List permissions only', async () => {
    const r = await plan(readOnly);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Plan: 3 to create, 1 to update, 0 to delete; 0 unchanged\.$/m);
  });

  it('fails with PODIAM_PLAN_FAILED, naming the refusal, when the credentials may not even read', async () => {
    await admin!.send(new CreateUserCommand({ UserName: 'nobody' }));
    const key = await admin!.send(new CreateAccessKeyCommand({ UserName: 'nobody' }));
    const r = await plan({ accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^podiam: PODIAM_PLAN_FAILED /);
  });
});
