// amazon-ec2-metadata-mock answers as a real IMDSv2 upstream through undici.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { startImdsMock, startPeers, type ImdsMock } from '../../peers/index.ts';

async function token(imds: ImdsMock): Promise<string> {
  const res = await request(`${imds.endpoint}/latest/api/token`, {
    method: 'PUT',
    headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  assert.equal(res.statusCode, 200);
  return res.body.text();
}

async function get(imds: ImdsMock, path: string, tok?: string): Promise<{ status: number; body: string }> {
  const res = await request(`${imds.endpoint}${path}`, {
    headers: tok ? { 'x-aws-ec2-metadata-token': tok } : {},
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('ec2-metadata-mock peer (IMDSv2 required)', () => {
  let imds: ImdsMock;
  before(async () => {
    imds = await startImdsMock();
  });
  after(() => imds?.stop());

  it('serves the instance id to a GET that carries a session token from PUT /latest/api/token', async () => {
    assert.match(imds.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const tok = await token(imds);
    assert.ok(tok.length > 0);

    const res = await get(imds, '/latest/meta-data/instance-id', tok);

    assert.equal(res.status, 200);
    assert.equal(res.body, imds.instanceId);
    assert.match(res.body, /^i-[0-9a-f]+$/);
  });

  it('refuses a GET without a session token with 401', async () => {
    const res = await get(imds, '/latest/meta-data/instance-id');

    assert.equal(res.status, 401);
  });

  it('refuses a GET with a token it did not issue with 401', async () => {
    const res = await get(imds, '/latest/meta-data/instance-id', 'AQAEAnot-a-real-token==');

    assert.equal(res.status, 401);
  });
});

describe('ec2-metadata-mock peer with a configured node role', () => {
  let imds: ImdsMock;
  const credentials = {
    AccessKeyId: 'ASIAPODIAMNODEEXAMPLE',
    SecretAccessKey: 'node-role-secret-for-tests-only',
    Token: 'node-role-session-token-for-tests-only',
    Expiration: '2030-01-01T00:00:00Z',
  };
  before(async () => {
    imds = await startImdsMock({ role: { name: 'podiam-test-node', credentials }, values: { 'instance-id': 'i-0podiam0test0001' } });
  });
  after(() => imds?.stop());

  it('serves the configured role name and its credentials under iam/security-credentials', async () => {
    const tok = await token(imds);

    const names = await get(imds, '/latest/meta-data/iam/security-credentials/', tok);
    const creds = await get(imds, '/latest/meta-data/iam/security-credentials/podiam-test-node', tok);
    const id = await get(imds, '/latest/meta-data/instance-id', tok);

    assert.equal(names.status, 200);
    assert.equal(names.body.trim(), 'podiam-test-node');
    assert.equal(creds.status, 200);
    const served = JSON.parse(creds.body) as Record<string, string>;
    assert.equal(served.AccessKeyId, credentials.AccessKeyId);
    assert.equal(served.Token, credentials.Token);
    assert.equal(served.Expiration, credentials.Expiration);
    assert.equal(id.body, 'i-0podiam0test0001');
    assert.equal(imds.instanceId, 'i-0podiam0test0001');
  });
});

describe('startPeers', () => {
  it('starts moto and the metadata mock together and stops both with one stop()', async () => {
    const peers = await startPeers({ moto: true, imds: { imdsv2: false } });
    after(() => peers.stop());
    assert.ok(peers.moto && peers.imds);
    assert.equal(peers.kube, undefined);
    assert.equal((await get(peers.imds, '/latest/meta-data/instance-id')).status, 200, 'IMDSv1 allowed when imdsv2 is false');
    assert.equal((await fetch(`${peers.moto.endpoint}/moto-api/data.json`)).status, 200);

    await peers.stop();

    for (const url of [`${peers.imds.endpoint}/latest/meta-data/`, `${peers.moto.endpoint}/moto-api/data.json`]) {
      await assert.rejects(fetch(url, { signal: AbortSignal.timeout(2000) }), `${url} still answers after stop()`);
    }
  });
});
