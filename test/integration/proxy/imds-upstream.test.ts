// ImdsUpstream (proxy/src/imds/upstream.ts), the proxy's client of the node's real IMDS, driven
// against amazon-ec2-metadata-mock (IMDSv2 only) and against loopback servers that misbehave on
// purpose: one that accepts and never answers, one that answers a trickle, one that answers too much.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ImdsUpstream } from '../../../proxy/src/imds/upstream.ts';
import { ProxyError } from '../../../proxy/src/errors.ts';
import { startImdsMock, type ImdsMock } from '../../peers/index.ts';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

describe('the proxy\'s client of the node\'s IMDS', () => {
  let imds: ImdsMock;
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const track = (server: Server): Server => {
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    servers.push(server);
    return server;
  };

  before(async () => {
    imds = await startImdsMock({ role: { name: 'node-role' } });
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await imds?.stop();
  });

  it('reads the node role\'s credentials from the real metadata mock with an IMDSv2 session token', async () => {
    const upstream = new ImdsUpstream(imds.endpoint);
    try {
      const creds = await upstream.nodeCredentials();
      assert.ok(creds.accessKeyId.length > 0 && creds.sessionToken.length > 0);
      assert.ok(creds.expiration.getTime() > Date.now());
      const doc = await upstream.identityDocument();
      assert.match(doc.accountId, /^\d+$/); // the mock serves its default document's 0123456789
      assert.ok(doc.region.length > 0);
    } finally {
      await upstream.close();
    }
  });

  it('keeps one connection alive across several requests instead of connecting for each', async () => {
    let connections = 0;
    let requests = 0;
    const server = track(createServer((req, res) => {
      requests++;
      res.setHeader('content-type', 'text/plain');
      res.end(req.url === '/latest/api/token' ? 'tok' : 'value');
    }));
    server.on('connection', () => connections++);
    const upstream = new ImdsUpstream(await listen(server));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await upstream.get('/latest/meta-data/instance-id')).body.toString(), 'value');
      assert.equal(requests, 6); // one token, five reads
      assert.equal(connections, 1);
    } finally {
      await upstream.close();
    }
  });

  it('fetches a new session token once when the upstream says 401, then answers', async () => {
    let tokens = 0;
    const server = track(createServer((req, res) => {
      if (req.url === '/latest/api/token') return res.end(`tok-${++tokens}`);
      if (req.headers['x-aws-ec2-metadata-token'] !== 'tok-2') {
        res.statusCode = 401;
        return res.end();
      }
      res.end('ok');
    }));
    const upstream = new ImdsUpstream(await listen(server));
    try {
      const a = await upstream.get('/latest/meta-data/instance-id');
      assert.equal(a.status, 200);
      assert.equal(a.body.toString(), 'ok');
      assert.equal(tokens, 2);
    } finally {
      await upstream.close();
    }
  });

  it('fails with PODIAM_UPSTREAM_TIMEOUT within its timeout when the upstream accepts and never answers', async () => {
    const server = track(createServer(() => undefined));
    const upstream = new ImdsUpstream(await listen(server), { timeoutMs: 300 });
    const started = Date.now();
    try {
      await assert.rejects(upstream.get('/latest/meta-data/instance-id'), (err: unknown) => err instanceof ProxyError && err.code === 'PODIAM_UPSTREAM_TIMEOUT');
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    } finally {
      await upstream.close();
    }
  });

  it('fails with PODIAM_UPSTREAM_TIMEOUT when the answer trickles in past the timeout', async () => {
    const server = track(createServer((req, res) => {
      if (req.url === '/latest/api/token') return res.end('tok');
      res.write('a');
      const t = setInterval(() => res.write('a'), 50);
      res.on('close', () => clearInterval(t));
    }));
    const upstream = new ImdsUpstream(await listen(server), { timeoutMs: 300 });
    try {
      await assert.rejects(upstream.get('/latest/user-data'), (err: unknown) => err instanceof ProxyError && err.code === 'PODIAM_UPSTREAM_TIMEOUT');
    } finally {
      await upstream.close();
    }
  });

  it('refuses an answer larger than 1 MiB instead of buffering it', async () => {
    const server = track(createServer((req, res) => {
      if (req.url === '/latest/api/token') return res.end('tok');
      res.end(Buffer.alloc(2 * 1024 * 1024, 0x61));
    }));
    const upstream = new ImdsUpstream(await listen(server), { timeoutMs: 5000 });
    try {
      await assert.rejects(upstream.get('/latest/user-data'), (err: unknown) => err instanceof ProxyError && err.code === 'PODIAM_UPSTREAM_UNAVAILABLE' && /more than/.test(err.message));
    } finally {
      await upstream.close();
    }
  });

  it('fails with PODIAM_UPSTREAM_UNAVAILABLE when nothing listens', async () => {
    const server = track(createServer());
    const origin = await listen(server);
    await new Promise((r) => server.close(r));
    const upstream = new ImdsUpstream(origin);
    try {
      await assert.rejects(upstream.get('/latest/meta-data/instance-id'), (err: unknown) => err instanceof ProxyError && err.code === 'PODIAM_UPSTREAM_UNAVAILABLE');
    } finally {
      await upstream.close();
    }
  });
});
