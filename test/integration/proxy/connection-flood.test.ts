// Security regression (issue 11, items 1 and 2): one pod held 15,000 sockets that never sent a
// byte, and another pipelined thousands of requests per socket until the proxy was OOM-killed.
// These drive the real listener (startProxy) over loopback, each "pod" a loopback source address,
// with small caps so the floods stay small and bounded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, raw, testConfig } from './helpers.ts';

async function refusals(proxy: RunningProxy, reason: string): Promise<number> {
  const { values } = await proxy.metrics.connectionsRefused.get();
  return values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}

/** Opens a socket and waits until it is connected; the caller closes it. */
function openIdle(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: from });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readyState === 'closed') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('the metadata listener under connection floods from one pod', () => {
  let proxy: RunningProxy;
  const sockets: Socket[] = [];

  before(async () => {
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    pods.replaceAll([]);
    namespaces.replaceAll([]);
    proxy = await startProxy(
      testConfig({
        PODIAM_FIRST_BYTE_TIMEOUT_MS: '300',
        PODIAM_MAX_CONNECTIONS: '40',
        PODIAM_MAX_CONNECTIONS_PER_IP: '8',
        PODIAM_MAX_PIPELINED: '4',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9',
        PODIAM_PREFETCH: 'false',
      }),
      { indexes: { pods, namespaces } },
    );
    await proxy.ready;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await proxy?.stop();
  });

  it('closes a socket that sends no byte before the first-byte deadline', async () => {
    const before = await refusals(proxy, 'first_byte_timeout');
    const idle = await openIdle(proxy.port, '127.0.0.21');
    sockets.push(idle);
    assert.equal(await closedWithin(idle, 3000), true, 'the idle socket should have been closed by the proxy');
    assert.equal(await refusals(proxy, 'first_byte_timeout'), before + 1);
  });

  it('keeps a socket that has sent its first byte past the deadline (slow headers are node:http\'s headersTimeout)', async () => {
    const slow = await openIdle(proxy.port, '127.0.0.22');
    sockets.push(slow);
    slow.write('G');
    assert.equal(await closedWithin(slow, 800), false);
    slow.destroy();
  });

  it("refuses one pod's sockets beyond its cap while another pod is still answered", async () => {
    const before = await refusals(proxy, 'max_connections_per_ip');
    // Hold the first-byte timer off by sending one byte; the per-IP cap must still hold.
    const held: Socket[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await openIdle(proxy.port, '127.0.0.23');
      s.write('G');
      held.push(s);
      sockets.push(s);
    }
    const ninth = await openIdle(proxy.port, '127.0.0.23');
    sockets.push(ninth);
    assert.equal(await closedWithin(ninth, 2000), true, 'the ninth socket of one source should be closed at once');
    assert.equal(await refusals(proxy, 'max_connections_per_ip'), before + 1);
    const other = await call(proxy.port, '/healthz', { from: '127.0.0.24' });
    assert.equal(other.status, 200);
    for (const s of held) assert.equal(s.destroyed, false, 'sockets within the cap stay open');
    for (const s of held) s.destroy();
  });

  it('refuses sockets beyond the total cap, whichever pods hold them', async () => {
    const before = await refusals(proxy, 'max_connections');
    const held: Socket[] = [];
    // 5 sources x 8 = 40 = the total cap; let the per-IP closes of earlier tests settle first.
    await new Promise((r) => setTimeout(r, 100));
    for (let ip = 30; ip < 35; ip++) {
      for (let i = 0; i < 8; i++) {
        const s = await openIdle(proxy.port, `127.0.0.${ip}`);
        s.write('G');
        held.push(s);
        sockets.push(s);
      }
    }
    const extra = await openIdle(proxy.port, '127.0.0.40');
    sockets.push(extra);
    assert.equal(await closedWithin(extra, 2000), true);
    assert.ok((await refusals(proxy, 'max_connections')) > before);
    for (const s of held) s.destroy();
  });

  it('closes a socket that pipelines more requests than the depth cap, and answers fewer than were sent', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const before = await refusals(proxy, 'pipelining');
    const flood = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200);
    const got = await raw(proxy.port, flood, { from: '127.0.0.50', timeoutMs: 3000, keepOpen: true });
    const answered = got.text.split('HTTP/1.1 200').length - 1;
    assert.equal(got.closedByServer, true);
    assert.ok(answered < 200, `answered ${answered} of 200 pipelined requests`);
    assert.ok((await refusals(proxy, 'pipelining')) > before);
    const fresh = await call(proxy.port, '/healthz', { from: '127.0.0.50' });
    assert.equal(fresh.status, 200, 'the same pod is answered again on a new socket');
  });
});
