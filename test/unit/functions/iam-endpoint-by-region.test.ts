// Issue 17 item 6: the functions' IAM client was pinned to us-east-1, so a stack in aws-cn or
// aws-us-gov called the aws partition's IAM endpoint. The SDK maps the region to its partition's
// endpoint; these tests capture the host a real request goes to (stopped before it is sent, so no
// traffic leaves the machine) for the functions' and the CLI's clients.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ListRolesCommand, type IAMClient } from '@aws-sdk/client-iam';
import { createAwsClients } from '../../../functions/lib/aws-clients.ts';
import { iamClient } from '../../../cli/src/commands/aws-clients.ts';

const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };

/** The host the client would send ListRoles to. */
async function hostOf(iam: IAMClient): Promise<string> {
  let host = '';
  iam.middlewareStack.add(
    () => async (args) => {
      host = (args.request as { hostname: string }).hostname;
      throw Object.assign(new Error('stopped before sending'), { name: 'StoppedForTest' });
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  await assert.rejects(iam.send(new ListRolesCommand({})), { name: 'StoppedForTest' });
  return host;
}

describe('IAM endpoint from the region', () => {
  const cases: [string, string][] = [
    ['cn-north-1', 'iam.cn-north-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'iam.us-gov.amazonaws.com'],
    ['eu-west-1', 'iam.amazonaws.com'],
  ];
  for (const [region, host] of cases) {
    it(`sends the functions' IAM calls in ${region} to ${host}`, async () => {
      const { iam } = createAwsClients({ region }, { ...keys });
      assert.equal(await hostOf(iam), host);
    });

    it(`sends the CLI's IAM calls with AWS_REGION=${region} to ${host}`, async () => {
      assert.equal(await hostOf(iamClient({}, { ...keys, AWS_REGION: region })), host);
    });
  }

  it('still sends IAM calls to the configured endpoint when one is set (a local moto)', async () => {
    const { iam } = createAwsClients({ region: 'cn-north-1', awsEndpoint: 'http://127.0.0.1:5999' }, { ...keys });
    assert.equal(await hostOf(iam), '127.0.0.1');
  });
});
