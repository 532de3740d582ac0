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

  it('redact a secret-named field at any depth, not only where pino\'s paths reached', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream);
    log.warn({ a: { b: { c: { SecretAccessKey: 'deepsecret', authorization: 'Bearer deep' } } }, list: [{ sessionToken: 'inarray' }] }, 'nested');
    assert.equal(lines.length, 1);
    for (const secret of ['deepsecret', 'Bearer deep', 'inarray']) assert.ok(!lines[0]!.includes(secret), `${secret} leaked: ${lines[0]}`);
    assert.equal((JSON.parse(lines[0]!) as { list: Array<{ sessionToken: string }> }).list[0]!.sessionToken, '[redacted]');
  });

  it('keep pino\'s line shape: level number, ISO time, component, the fields, then msg', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream);
    log.error({ ip: '203.0.113.7', status: 503 }, 'no pod');
    log.warn('plain message');
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['level', 'time', 'component', 'ip', 'status', 'msg']);
    assert.equal(first.level, 50);
    assert.equal(first.component, 'podiam-proxy');
    assert.ok(!Number.isNaN(Date.parse(first.time as string)));
    assert.deepEqual(Object.keys(JSON.parse(lines[1]!) as object), ['level', 'time', 'component', 'msg']);
    assert.ok(lines.every((l) => l.endsWith('}\n')));
  });

  it('write nothing below the configured level, and nothing at all when silent', () => {
    const { stream, lines } = capture();
    const log = createLogger('warn', stream);
    log.debug({}, 'd');
    log.info({}, 'i');
    log.warn({}, 'w');
    createLogger('silent', stream).fatal({}, 'f');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['w']);
  });

  it('write an Error as its type, message and code, and survive a cycle', () => {
    const { stream, lines } = capture();
    const log = createLogger('info', stream);
    const err = Object.assign(new TypeError('bad thing'), { code: 'E_BAD' });
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    log.info({ err, cyclic }, 'oops');
    const line = JSON.parse(lines[0]!) as { err: unknown; cyclic: { self: unknown } };
    assert.deepEqual(line.err, { type: 'TypeError', message: 'bad thing', code: 'E_BAD' });
    assert.equal(line.cyclic.self, '[circular]');
  });
});
