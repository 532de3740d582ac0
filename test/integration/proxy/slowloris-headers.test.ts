// Held-out attack (issue 11): slowloris. Pods open many sockets and send their request headers one
// byte a second, so that no request ever completes and every socket stays open. The first-byte
// deadline does not apply (they have sent bytes); node:http's headersTimeout (2 s in
// proxy/src/server.ts) must close them, and another pod must still be answered meanwhile.
// Drives the real listener (startProxy) over loopback, each pod a loopback source address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { call, podObject, testConfig } from './helpers.ts';

const ATTACKERS = ['127.0.0.101', '127.0.0.102', '127.0.0.103'];
const SOCKETS_PER_POD = 20;
/** The attacker's first bytes: a valid request line and the start of a header it then extends by one byte a second. */
const TRICKLE = 'GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nX-Slow: ';
const MAX_TRICKLE_SECONDS = 10;

/** Trickles one byte a second; resolves true if the proxy closed the socket before the attacker ran out of bytes. */
function slowloris(port: number, from: string): { socket: Socket; closedByProxy: Promise<boolean> } {
  const socket = connect({ host: '127.0.0.1', port, localAddress: from });
  const closedByProxy = new Promise<boolean>((resolve) => {
    let sent = 0;
    const tick = setInterval(() => {
      if (sent >= MAX_TRICKLE_SECONDS) {
        clearInterval(tick);
        socket.destroy();
        resolve(false);
        return;
      }
      socket.write('x');
      sent++;
    }, 1000);
    socket.on('connect', () => socket.write(TRICKLE));
    socket.on('error', () => undefined);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('close', () => {
      clearInterval(tick);
      // Closed by the proxy's timeout (408), not for a parse error (400) the attacker made.
      resolve(sent < MAX_TRICKLE_SECONDS && !answer.includes(' 400 '));
    });
  });
  return { socket, closedByProxy };
}

describe('slowloris: pods that send their headers one byte a second', () => {
  let proxy: RunningProxy;
  const sockets: Socket[] = [];

  before(async () => {
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll([podObject('legit', 'orders', '127.0.0.100', { 'iam.amazonaws.com/role': 'reader' })]);
    proxy = await startProxy(
      testConfig({ PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9', PODIAM_PREFETCH: 'false' }),
      { indexes: { pods, namespaces } },
    );
    await proxy.ready;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await proxy?.stop();
  });

  it('has every slow socket closed by the proxy, and answers another pod meanwhile', async () => {
    const attacks = ATTACKERS.flatMap((ip) => Array.from({ length: SOCKETS_PER_POD }, () => slowloris(proxy.port, ip)));
    sockets.push(...attacks.map((a) => a.socket));
    // While the attack is on: the legitimate pod asks for its role.
    await new Promise((r) => setTimeout(r, 1500));
    const legit = await call(proxy.port, '/latest/meta-data/iam/security-credentials/', { from: '127.0.0.100' });
    assert.equal(legit.status, 200);
    assert.equal(legit.body, 'test.orders.reader');
    const closed = await Promise.all(attacks.map((a) => a.closedByProxy));
    assert.equal(closed.filter(Boolean).length, attacks.length, `the proxy closed ${closed.filter(Boolean).length} of ${attacks.length} slow sockets before their attackers ran out of bytes`);
  });
});
