// Issue 17 item 6: a ClusterName longer than the naming scheme supports broke the '<cluster>.'
// name prefix that the drift rule and reconcile use to find a cluster's roles. One constant in
// core/src/naming.ts; the template, the chart schema (through the real helm), the CLI, the proxy
// and the functions all refuse one character more.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { MAX_CLUSTER_NAME_LENGTH, isClusterName, managedRoleName } from '../../../core/src/naming.ts';
import { ConfigError, PodiamError } from '../../../core/src/errors.ts';
import { parseConfig } from '../../../proxy/src/config.ts';
import { loadFunctionsConfig } from '../../../functions/lib/config.ts';
import { requestFor } from '../../../functions/reconcile/events.ts';
import { run } from '../../../cli/src/main.ts';
import { tryRender } from '../chart/chart.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const longest = `c${'x'.repeat(MAX_CLUSTER_NAME_LENGTH - 2)}1`;
const tooLong = `c${'x'.repeat(MAX_CLUSTER_NAME_LENGTH - 1)}1`;

function driftEventFor(roleName: string) {
  return {
    source: 'aws.iam',
    'detail-type': 'AWS API Call via CloudTrail',
    detail: { eventSource: 'iam.amazonaws.com', eventName: 'PutRolePolicy', requestParameters: { roleName, policyName: 'x' } },
  };
}

describe('the longest cluster name', () => {
  it('is 42: a shortened role name of a 42-character cluster still starts with "<cluster>."', () => {
    assert.equal(MAX_CLUSTER_NAME_LENGTH, 42);
    const name = managedRoleName({ cluster: longest, namespace: 'n'.repeat(63), service: 's' });
    assert.ok(name.includes('_'), 'the name is the shortened form');
    assert.ok(name.startsWith(`${longest}.`), name);
    const tooLongName = managedRoleName({ cluster: tooLong, namespace: 'n'.repeat(63), service: 's' });
    assert.ok(!tooLongName.startsWith(`${tooLong}.`), `one more character and the prefix is lost: ${tooLongName}`);
  });

  it("lets reconcile take the drift of a 42-character cluster's shortened role as its own", () => {
    const name = managedRoleName({ cluster: longest, namespace: 'n'.repeat(63), service: 's' });
    const d = requestFor(driftEventFor(name), { cluster: longest, bundleBucket: 'b', bundleKey: 'k', selfRoleArn: undefined });
    assert.equal(d.run, true);
  });

  it('accepts 42 characters and refuses 43 in the core check', () => {
    assert.equal(isClusterName(longest), true);
    assert.equal(isClusterName(tooLong), false);
  });

  it('is what template.yaml states for ClusterName (MaxLength and AllowedPattern)', () => {
    const t = parse(readFileSync(path.join(repo, 'template.yaml'), 'utf8'), { logLevel: 'silent' }) as { Parameters: Record<string, Record<string, unknown>> };
    const p = t.Parameters.ClusterName!;
    assert.equal(Number(p.MaxLength), MAX_CLUSTER_NAME_LENGTH);
    const pattern = new RegExp(String(p.AllowedPattern));
    assert.ok(pattern.test(longest));
    assert.ok(!pattern.test(tooLong));
  });

  it('is what the chart schema states, and helm refuses a 43-character clusterName', async () => {
    const schema = JSON.parse(readFileSync(path.join(repo, 'chart/values.schema.json'), 'utf8')) as { properties: Record<string, Record<string, unknown>> };
    assert.equal(schema.properties.clusterName!.maxLength, MAX_CLUSTER_NAME_LENGTH);
    const ok = await tryRender({ clusterName: longest });
    assert.ok(ok.ok, ok.stderr);
    const refused = await tryRender({ clusterName: tooLong });
    assert.equal(refused.ok, false);
    assert.match(refused.stderr, /clusterName/);
  });

  it('makes podiam --cluster refuse 43 characters with a usage error (exit 2) naming the limit', async () => {
    let stderr = '';
    const code = await run(['plan', '--cluster', tooLong], { stdout: () => {}, stderr: (t) => (stderr += t), env: {} });
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`1-${MAX_CLUSTER_NAME_LENGTH} characters`));
  });

  it('stops the proxy and the functions at start with a 43-character PODIAM_CLUSTER_NAME', () => {
    assert.throws(
      () => parseConfig({ PODIAM_CLUSTER_NAME: tooLong, NODE_NAME: 'node-1', HOST_IP: '192.0.2.1' }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith('PODIAM_CLUSTER_NAME'),
    );
    assert.equal(parseConfig({ PODIAM_CLUSTER_NAME: longest, NODE_NAME: 'node-1', HOST_IP: '192.0.2.1' }).clusterName, longest);
    const env = {
      PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/a',
      PODIAM_BUNDLE_BUCKET: 'bucket',
      PODIAM_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::123456789012:policy/podiam-boundary',
    };
    assert.throws(
      () => loadFunctionsConfig({ ...env, PODIAM_CLUSTER_NAME: tooLong }),
      (e: unknown) => e instanceof PodiamError && e.code === 'PODIAM_CONFIG_INVALID' && /PODIAM_CLUSTER_NAME/.test(e.message),
    );
    assert.equal(loadFunctionsConfig({ ...env, PODIAM_CLUSTER_NAME: longest }).cluster, longest);
  });
});
