import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STSClient } from '@aws-sdk/client-sts';
import { accountIdResolver, createAwsClients, IAM_MAX_ATTEMPTS } from '../../../functions/lib/aws-clients.ts';

// A real STS client aimed at a closed loopback port: any call it makes fails, so a test that
// gets an answer proves that no STS call was made.
const unreachableSts = () =>
  new STSClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'example' } });

describe('account ID resolution', () => {
  it('learns the account from the Lambda context without calling STS', async () => {
    const sts = unreachableSts();
    const resolve = accountIdResolver(sts);
    resolve.learn('arn:aws:lambda:us-east-1:210987654321:function:podiam-AdmissionFunction-x');
    assert.equal(await resolve(), '210987654321');
    sts.destroy();
  });

  it('prefers the configured account and ignores an ARN that is not a function ARN', async () => {
    const sts = unreachableSts();
    const configured = accountIdResolver(sts, '111122223333');
    configured.learn('arn:aws:lambda:us-east-1:210987654321:function:f');
    assert.equal(await configured(), '111122223333');
    const unknown = accountIdResolver(sts);
    unknown.learn('not-an-arn');
    await assert.rejects(unknown(), 'without a context it asks STS (which is unreachable here)');
    sts.destroy();
  });
});

describe('the IAM retry budget', () => {
  it("gives the IAM client the SDK's standard retry with the function's attempt budget", async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };
    for (const [kind, attempts] of [['reconcile', 5], ['admission', 3]] as const) {
      const clients = createAwsClients({ region: 'us-east-1', awsEndpoint: 'http://127.0.0.1:9' }, env, IAM_MAX_ATTEMPTS[kind]);
      const mode = clients.iam.config.retryMode;
      assert.equal(typeof mode === 'function' ? await mode() : mode, 'standard', kind);
      assert.equal(await clients.iam.config.maxAttempts(), attempts, kind);
      for (const c of Object.values(clients)) c.destroy();
    }
  });
});
