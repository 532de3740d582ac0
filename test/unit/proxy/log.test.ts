import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../proxy/src/log.ts';

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, lines };
}

describe('proxy logs', () => {
  it('are JSON and never carry credentials or metadata tokens', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream);
    log.info({ credentials: { AccessKeyId: 'ASIASECRETKEY', SecretAccessKey: 'topsecret', Token: 'sessiontoken' } }, 'issued');
    log.info({ creds: { accessKeyId: 'ASIASECRETKEY', secretAccessKey: 'topsecret', sessionToken: 'sessiontoken' } }, 'issued');
    log.info({ req: { headers: { 'x-aws-ec2-metadata-token': 'imdstoken', authorization: 'Bearer kube' } } }, 'request');
    assert.equal(lines.length, 3);
    for (const line of lines) {
      const parsed = JSON.parse(line) as { msg: string };
      assert.ok(parsed.msg);
      for (const secret of ['ASIASECRETKEY', 'topsecret', 'sessiontoken', 'imdstoken', 'Bearer kube']) assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
    }
  });
});
