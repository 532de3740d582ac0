// rawHeader() (proxy/src/server.ts): the IMDSv2 token header read from rawHeaders instead of the
// headers object node builds on demand. It must match names without regard to case, and report a
// header sent twice so that the router refuses it rather than picking one.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { rawHeader } from '../../../proxy/src/server.ts';

const req = (rawHeaders: string[]): IncomingMessage => ({ rawHeaders }) as unknown as IncomingMessage;

describe('reading one request header from rawHeaders', () => {
  it('finds the header whatever the case of its name', () => {
    assert.equal(rawHeader(req(['Host', 'x', 'X-AWS-EC2-Metadata-Token', 'tok']), 'x-aws-ec2-metadata-token'), 'tok');
    assert.equal(rawHeader(req(['x-aws-ec2-metadata-token', '']), 'x-aws-ec2-metadata-token'), '');
  });

  it('says undefined when the header is absent, even when a longer or shorter name shares its start', () => {
    assert.equal(rawHeader(req(['Host', 'x', 'x-aws-ec2-metadata-token-ttl-seconds', '60']), 'x-aws-ec2-metadata-token'), undefined);
    assert.equal(rawHeader(req([]), 'x-aws-ec2-metadata-token'), undefined);
  });

  it('reports a header sent twice as many, not as either value', () => {
    const many = rawHeader(req(['x-aws-ec2-metadata-token', 'a', 'X-Aws-Ec2-Metadata-Token', 'b']), 'x-aws-ec2-metadata-token');
    assert.equal(typeof many, 'symbol');
  });
});
