// Reading STS's Query API answers (proxy/src/sts/query-answer.ts): the AssumeRole answer as the
// STS API reference shows it, an error answer, escaped text, and answers missing a piece.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { leafText, readAssumeRoleAnswer, readErrorAnswer } from '../../../proxy/src/sts/query-answer.ts';

const ANSWER = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>
       AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW&amp;LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd
      </SessionToken>
      <Expiration>2026-12-01T00:12:30.123Z</Expiration>
    </Credentials>
    <PackedPolicySize>8</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>`;

const ERROR = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::123456789012:assumed-role/node/i-1 is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/x &amp; &lt;y&gt;</Message>
  </Error>
  <RequestId>4f8d2d9c</RequestId>
</ErrorResponse>`;

describe('STS Query API answers', () => {
  it('reads the four credential fields of an AssumeRole answer, unescaped and trimmed', () => {
    const c = readAssumeRoleAnswer(ANSWER);
    assert.ok(c);
    assert.equal(c.accessKeyId, 'ASIAIOSFODNN7EXAMPLE');
    assert.equal(c.secretAccessKey, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY');
    assert.match(c.sessionToken, /^AQoDYXdzEPT.*W&LWsKWHG.*McGd$/);
    assert.equal(c.expiration.toISOString(), '2026-12-01T00:12:30.123Z');
  });

  it('reads nothing when a credential field is missing or the expiration is not a date', () => {
    assert.equal(readAssumeRoleAnswer(ANSWER.replace(/<SessionToken>[\s\S]*<\/SessionToken>/, '')), undefined);
    assert.equal(readAssumeRoleAnswer(ANSWER.replace('2026-12-01T00:12:30.123Z', 'tomorrow')), undefined);
    assert.equal(readAssumeRoleAnswer('<html>Bad gateway</html>'), undefined);
  });

  it('does not take an AccessKeyId from outside the Credentials element', () => {
    const moved = ANSWER.replace('<AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>', '').replace('<SourceIdentity>', '<AccessKeyId>AKIAOUTSIDE</AccessKeyId><SourceIdentity>');
    assert.equal(readAssumeRoleAnswer(moved), undefined);
  });

  it('reads the code and unescaped message of an error answer', () => {
    const e = readErrorAnswer(ERROR);
    assert.equal(e.code, 'AccessDenied');
    assert.match(e.message ?? '', /not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role\/x & <y>$/);
    assert.deepEqual(readErrorAnswer('<html></html>'), { code: undefined, message: undefined });
    assert.equal(leafText('<a><b>&#65;&#x42;</b></a>', 'b', 'a'), 'AB');
  });

  it('keeps only the credentials, not the answer they were read from, once the answer is dropped', () => {
    // V8 makes a long substring a view into its parent: a cached credential read by a regexp
    // capture would keep the whole answer alive. 64 answers padded to 512 KiB each are 32 MiB if
    // kept; what stays after a full GC must be far less.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const pad = 'x'.repeat(512 * 1024);
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept = Array.from({ length: 64 }, (_, i) => readAssumeRoleAnswer(ANSWER.replace('<PackedPolicySize>', `<Padding>${pad}${i}</Padding><PackedPolicySize>`))!);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(kept.length, 64);
    assert.ok(grown < 4 * 1024 * 1024, `the heap grew by ${(grown / 1048576).toFixed(1)} MiB for 64 credentials`);
  });
});
