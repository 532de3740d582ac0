import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { flagsToEnv, parseConfig } from '../../../proxy/src/config.ts';
import { ConfigError } from '../../../core/src/errors.ts';

const base = { PODIAM_CLUSTER_NAME: 'prod', NODE_NAME: 'node-1', HOST_IP: '192.0.2.1' };

function configError(setting: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ConfigError && e.code === 'PODIAM_CONFIG_INVALID' && e.message.startsWith(setting);
}

describe('proxy configuration', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig(base);
    assert.equal(c.port, 8181);
    assert.equal(c.metricsPort, 9181);
    assert.equal(c.hostInterface, 'docker0');
    assert.equal(c.iptables, true);
    assert.equal(c.imdsUpstream, 'http://169.254.169.254');
    assert.equal(c.requireImdsV2, true, 'IMDSv2 is required by default');
    assert.equal(c.nodeName, 'node-1');
    assert.equal(c.hostIp, '192.0.2.1');
    assert.equal(c.defaultRole, undefined);
    assert.equal(c.externalId, undefined);
    assert.ok(c.passthroughPaths.includes('/latest/meta-data/instance-id'));
    assert.equal(c.prefetchConcurrency, 4, 'a few AssumeRole calls at once, not one per pod');
    assert.ok(Object.isFrozen(c));
  });

  it('lets flags override the environment', () => {
    const c = parseConfig({ ...base, PODIAM_REQUIRE_IMDSV2: 'false' }, ['--port=9000', '--host-interface', '!eth0', '--require-imdsv2']);
    assert.equal(c.port, 9000);
    assert.equal(c.hostInterface, '!eth0');
    assert.equal(c.requireImdsV2, true);
    assert.deepEqual(flagsToEnv(['--allowed-accounts=111111111111,222222222222']), { PODIAM_ALLOWED_ACCOUNTS: '111111111111,222222222222' });
  });

  it('names the setting and the fix for each bad value', () => {
    assert.throws(() => parseConfig({ ...base, PODIAM_CLUSTER_NAME: '' }), configError('PODIAM_CLUSTER_NAME'));
    assert.throws(() => parseConfig({ ...base, PODIAM_CLUSTER_NAME: 'Prod_1' }), configError('PODIAM_CLUSTER_NAME'));
    assert.throws(() => parseConfig({ PODIAM_CLUSTER_NAME: 'prod', HOST_IP: '192.0.2.1' }), configError('PODIAM_NODE_NAME'));
    assert.throws(() => parseConfig({ PODIAM_CLUSTER_NAME: 'prod', NODE_NAME: 'n' }), configError('PODIAM_HOST_IP'));
    assert.throws(() => parseConfig({ ...base, PODIAM_PORT: '70000' }), configError('PODIAM_PORT'));
    assert.throws(() => parseConfig({ ...base, PODIAM_IPTABLES: 'maybe' }), configError('PODIAM_IPTABLES'));
    assert.throws(() => parseConfig({ ...base, PODIAM_HOST_INTERFACE: 'eth0; rm -rf /' }), configError('PODIAM_HOST_INTERFACE'));
    assert.throws(() => parseConfig({ ...base, PODIAM_ALLOWED_ACCOUNTS: '123' }), configError('PODIAM_ALLOWED_ACCOUNTS'));
    assert.throws(() => parseConfig({ ...base, PODIAM_ACCOUNT_ID: 'x' }), configError('PODIAM_ACCOUNT_ID'));
    assert.throws(() => parseConfig({ ...base, PODIAM_IMDS_UPSTREAM: 'https://x/y' }), configError('PODIAM_IMDS_UPSTREAM'));
    assert.throws(() => parseConfig({ ...base, PODIAM_LOG_LEVEL: 'loud' }), configError('PODIAM_LOG_LEVEL'));
    assert.throws(() => parseConfig({ ...base, PODIAM_PREFETCH_CONCURRENCY: '0' }), configError('PODIAM_PREFETCH_CONCURRENCY'));
    assert.throws(() => parseConfig({ ...base, PODIAM_PREFETCH_CONCURRENCY: '65' }), configError('PODIAM_PREFETCH_CONCURRENCY'));
    assert.throws(() => parseConfig({ ...base, PODIAM_EXTERNAL_ID: 'has spaces in it' }), configError('PODIAM_EXTERNAL_ID'));
    assert.throws(() => parseConfig({ ...base, PODIAM_INDEX_WAIT_MS: '900', PODIAM_CREDENTIALS_WAIT_MS: '900' }), configError('PODIAM_INDEX_WAIT_MS'));
    assert.throws(() => parseConfig(base, ['positional']), (e: unknown) => e instanceof ConfigError);
  });

  it('refuses PODIAM_SESSION_TAGS=false at start, saying that no managed role could be assumed without the namespace tag', () => {
    // Every managed role's trust requires the kubernetes-namespace session tag; a proxy that
    // obeyed false would start, look healthy, and fail every credential request at STS.
    for (const value of ['false', '0', 'off']) {
      assert.throws(
        () => parseConfig({ ...base, PODIAM_SESSION_TAGS: value }),
        (e: unknown) => configError('PODIAM_SESSION_TAGS')(e) && /no managed role could be assumed/.test((e as Error).message) && /set it to true/.test((e as Error).message),
        value,
      );
    }
    assert.doesNotThrow(() => parseConfig({ ...base, PODIAM_SESSION_TAGS: 'true' }));
    assert.doesNotThrow(() => parseConfig(base));
  });

  it('never lets the passthrough allowlist expose user-data, the node role or identity credentials', () => {
    for (const p of ['/latest/user-data', '/latest/meta-data/iam/', '/latest/meta-data/', '/latest/meta-data/identity-credentials/ec2/', '/latest/../user-data']) {
      assert.throws(() => parseConfig({ ...base, PODIAM_PASSTHROUGH_PATHS: p }), configError('PODIAM_PASSTHROUGH_PATHS'), p);
    }
    assert.deepEqual(parseConfig({ ...base, PODIAM_PASSTHROUGH_PATHS: '/latest/meta-data/instance-id, /latest/meta-data/placement/' }).passthroughPaths, [
      '/latest/meta-data/instance-id',
      '/latest/meta-data/placement/',
    ]);
  });

  it('needs no host IP when iptables is off', () => {
    const c = parseConfig({ PODIAM_CLUSTER_NAME: 'prod', PODIAM_NODE_NAME: 'n', PODIAM_IPTABLES: 'false' });
    assert.equal(c.iptables, false);
  });
});
