// The parts of `npm run bench:proxy` whose mistakes would make its figures wrong without failing:
// the AssumeRole count (the relay in front of real moto), the bare server's answer (it must be the
// captured answer byte for byte) and the order statistics.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { freePort, startPeers, type Peers } from '../../peers/index.ts';
import { StsCounter } from '../../../bench/proxy/sts-counter.ts';
import { rawExchange, call } from '../../../bench/proxy/load.ts';
import { median, quantile } from '../../../bench/proxy/stats.ts';
import { imageRuntime } from '../../../bench/proxy/shipped-runtime.ts';
import { categoryOf } from '../../../bench/proxy/profile-summary.ts';

describe('bench:proxy parts', () => {
  let peers: Peers;
  const counter = { relay: undefined as StsCounter | undefined };
  before(async () => {
    peers = await startPeers({ moto: true });
  });
  after(async () => {
    await counter.relay?.stop();
    await peers?.stop();
  });

  it('counts AssumeRole calls per role session through the relay, and passes moto answers back', async () => {
    const arn = 'arn:aws:iam::123456789012:role/bench.relay.reader';
    await peers.moto!.createRoles([arn]);
    const relay = (counter.relay = new StsCounter(peers.moto!.endpoint));
    const endpoint = await relay.start();
    const sts = new STSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(40) } });
    const assume = (session: string): Promise<unknown> =>
      sts.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: session, Tags: [{ Key: 'kubernetes-namespace', Value: 'relay' }] }));

    await Promise.all([assume('relay.a'), assume('relay.b'), assume('relay.a')]);

    assert.equal(relay.counts.assumeRole, 3);
    assert.equal(relay.counts.ok, 3);
    assert.deepEqual([...relay.counts.perSession.entries()].sort(), [['relay.a', 2], ['relay.b', 1]]);
    assert.ok(relay.counts.maxInFlight >= 1 && relay.counts.maxInFlight <= 3);
    assert.equal(await relay.settled(2, 200, 5000), true);
    sts.destroy();
  });

  it('has the bare server answer with the captured answer byte for byte, apart from the date', async () => {
    const body = JSON.stringify({ Code: 'Success', Token: 't'.repeat(300) });
    const original: Server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'x-extra': 'kept', 'content-length': String(body.length) });
      res.end(body);
    });
    original.maxRequestsPerSocket = 1000;
    await new Promise<void>((r) => original.listen(0, '127.0.0.1', r));
    after(() => original.close());
    const request = 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const captured = await rawExchange((original.address() as AddressInfo).port, request);
    const own = new Set(['date', 'connection', 'keep-alive']);
    const reply = { status: 200, headers: captured.headers.filter(([n]) => !own.has(n.toLowerCase())), body: captured.body.toString('base64'), keepAliveTimeoutMs: 5000, maxRequestsPerSocket: 1000 };
    const port = await freePort();
    const bare = spawn(process.execPath, ['--import', 'tsx', 'bench/proxy/bare-server.ts', String(port)], { env: { ...process.env, BENCH_REPLY: Buffer.from(JSON.stringify(reply)).toString('base64') }, stdio: 'ignore' });
    after(() => bare.kill('SIGKILL'));
    for (let i = 0; i < 100; i++) {
      if (await call(port, '127.0.0.1', 'GET', '/').then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const replayed = await rawExchange(port, request);

    const withoutDate = (a: typeof captured): Array<[string, string]> => a.headers.filter(([n]) => n.toLowerCase() !== 'date');
    assert.deepEqual(withoutDate(replayed), withoutDate(captured));
    assert.equal(replayed.headerBytes, captured.headerBytes);
    assert.equal(replayed.body.toString(), body);
  });

  it('takes quantiles by nearest rank and medians between the middle two', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(quantile(values, 0.99), 99);
    assert.equal(quantile(values, 0.5), 50);
    assert.equal(quantile(values, 1), 100);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([3, 1, 2]), 2);
  });

  it("runs the proxy with the image's own node flags and environment: the runtime stage's ENV and CMD, not the build stage's", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-image-runtime-'));
    try {
      const dockerfile = path.join(dir, 'Dockerfile');
      writeFileSync(dockerfile, ['FROM node:24 AS build', 'ENV BUILD_ONLY=1', 'CMD ["--inspect", "/src/main.cjs"]', 'FROM gcr.io/distroless/nodejs24-debian12', '# comment', 'ENV NODE_ENV=production', 'ENV A=1 B=two', 'ENTRYPOINT ["/nodejs/bin/node"]', 'CMD ["--memory-saver-mode", "/app/main.cjs"]', ''].join('\n'));
      assert.deepEqual(imageRuntime(dockerfile), { env: { NODE_ENV: 'production', A: '1', B: 'two' }, nodeFlags: ['--memory-saver-mode'] });
      writeFileSync(dockerfile, 'FROM x\nCMD ["/app/other.js"]\n');
      assert.throws(() => imageRuntime(dockerfile), /does not end with the bundle/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // And the real one parses: what the benchmarks run is what proxy/Dockerfile ships.
    assert.ok(imageRuntime().env.NODE_ENV === 'production');
  });

  it('sorts CPU profile frames into categories: idle left out, GC, the socket write, the server\'s own bundle, node\'s http', () => {
    const frame = (functionName: string, url = ''): { functionName: string; url: string } => ({ functionName, url });
    assert.equal(categoryOf(frame('(idle)'), 'main.cjs'), undefined);
    assert.equal(categoryOf(frame('(garbage collector)'), 'main.cjs'), 'GC');
    assert.equal(categoryOf(frame('writeUtf8String'), 'main.cjs'), 'socket write (native)');
    assert.equal(categoryOf(frame('route', 'file:///work/dist/proxy/main.cjs'), 'main.cjs'), "the server's own code (main.cjs)");
    assert.equal(categoryOf(frame('route', 'file:///work/dist/proxy/main.cjs'), 'bare-server.cjs'), 'other node internals');
    assert.equal(categoryOf(frame('writeHead', 'node:_http_server'), 'main.cjs'), "node's http");
    assert.equal(categoryOf(frame('emit', 'node:events'), 'main.cjs'), "node's net, streams, events, timers, ticks");
  });
});
