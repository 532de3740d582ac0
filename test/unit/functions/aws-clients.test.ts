import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STSClient } from '@aws-sdk/client-sts';
import { accountIdResolver } from '../../../functions/lib/aws-clients.ts';

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
