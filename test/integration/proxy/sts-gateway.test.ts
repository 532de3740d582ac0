// The proxy's AssumeRole client (proxy/src/sts/gateway.ts) on the wire: against moto for real
// credentials and a real refusal, and against loopback servers that hang, throttle or fail, to
// check its timeouts and how the credential cache will classify each failure.
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { StsAnswerError, StsGateway, isRetriable, stsRefusalCode } from '../../../proxy/src/sts/gateway.ts';
import type { AssumeRequest } from '../../../proxy/src/sts/types.ts';
import { startMoto, type MotoPeer } from '../../peers/index.ts';

const ROLE = 'arn:aws:iam::123456789012:role/podiam/gw/reader';
const request = (extra: Partial<AssumeRequest> = {}): AssumeRequest => ({
  roleArn: ROLE,
  sessionName: 'orders.reader-7d9c5',
  durationSeconds: 900,
  tags: [{ Key: 'kubernetes-namespace', Value: 'orders' }, { Key: 'kubernetes-pod-name', Value: 'reader (v2) & co' }],
  ...extra,
});

describe('the proxy\'s AssumeRole client', () => {
  let moto: MotoPeer;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();

  async function loopback(handler: RequestListener): Promise<string> {
    const server = createServer(handler);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    moto = await startMoto();
    await moto.createRoles([ROLE]);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await moto?.stop();
  });

  it('gets credentials from moto that STS then recognises as the assumed role, with tags and an external ID in the call', async () => {
    const gateway = new StsGateway({ region: moto.region, endpoint: moto.endpoint, credentials: async () => Promise.resolve(moto.credentials) });
    try {
      const issued = await gateway.assume(request({ externalId: 'ext/id+1' }));
      assert.ok(issued.expiration.getTime() > Date.now());
      const sts = new STSClient({ region: moto.region, endpoint: moto.endpoint, credentials: { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken } });
      const who = await sts.send(new GetCallerIdentityCommand({}));
      sts.destroy();
      assert.match(who.Arn ?? '', /assumed-role\/reader\/orders\.reader-7d9c5$/);
    } finally {
      gateway.destroy();
    }
  });

  it('reports STS\'s own error code and status when STS refuses, which the cache treats as a refusal', async () => {
    const gateway = new StsGateway({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
    try {
      // The moto patch (test/peers/moto-patch) refuses a role that does not exist, as AWS does.
      const err = await gateway.assume(request({ roleArn: 'arn:aws:iam::123456789012:role/podiam/gw/missing' })).then(
        () => assert.fail('a missing role must be refused'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StsAnswerError, String(err));
      assert.equal(err.status, 403);
      assert.equal(err.code, 'AccessDenied');
      assert.match(err.message, /not authorized to perform: sts:AssumeRole/);
      assert.equal(stsRefusalCode(err), 'AccessDenied');
      // IAM is eventually consistent: a role created seconds ago may not be assumable yet.
      assert.equal(isRetriable(err), true);
    } finally {
      gateway.destroy();
    }
  });

  it('treats a throttling answer as neither a refusal nor final', async () => {
    const endpoint = await loopback((req, res) => {
      req.resume();
      res.statusCode = 400;
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>');
    });
    const gateway = new StsGateway({ region: 'us-east-1', endpoint, credentials: moto.credentials });
    try {
      const err = await gateway.assume(request()).then(() => assert.fail('must throw'), (e: unknown) => e);
      assert.ok(err instanceof StsAnswerError);
      assert.equal(err.name, 'Throttling');
      assert.equal(stsRefusalCode(err), undefined);
      assert.equal(isRetriable(err), true);
    } finally {
      gateway.destroy();
    }
  });

  it('gives up within its request timeout when STS accepts the connection and never answers', async () => {
    const endpoint = await loopback((req) => req.resume());
    const gateway = new StsGateway({ region: 'us-east-1', endpoint, credentials: moto.credentials, requestTimeoutMs: 300 });
    const started = Date.now();
    try {
      const err = await gateway.assume(request()).then(() => assert.fail('must throw'), (e: unknown) => e);
      const took = Date.now() - started;
      assert.equal((err as Error).name, 'TimeoutError');
      assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
      assert.equal(stsRefusalCode(err), undefined);
      assert.equal(isRetriable(err), true);
    } finally {
      gateway.destroy();
    }
  });

  it('treats a 5xx page that is not XML as a retriable failure, not a refusal', async () => {
    const endpoint = await loopback((req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end('<html>Service Unavailable</html>');
    });
    const gateway = new StsGateway({ region: 'us-east-1', endpoint, credentials: moto.credentials });
    try {
      const err = await gateway.assume(request()).then(() => assert.fail('must throw'), (e: unknown) => e);
      assert.ok(err instanceof StsAnswerError);
      assert.equal(err.status, 503);
      assert.equal(stsRefusalCode(err), undefined);
      assert.equal(isRetriable(err), true);
    } finally {
      gateway.destroy();
    }
  });
});
