// startProxy without peers: account and region are configured (no IMDS call), the pod index is fed
// here, the credential source and the iptables runner are in-memory stand-ins (this file checks
// wiring and readiness; the real ones are exercised in test/integration/proxy and test/e2e/proxy).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { parseConfig } from '../../../proxy/src/config.ts';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { createLogger } from '../../../proxy/src/log.ts';

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('starting the proxy', () => {
  const running: RunningProxy[] = [];
  after(async () => {
    for (const p of running) await p.stop();
  });

  it('keeps retrying the iptables rule and is ready only once it is in place', async () => {
    let attempts = 0;
    const rules = new Set<string>();
    const runner = async (args: string[], table: string): Promise<void> => {
      const [op, ...rest] = args;
      const key = `${table} ${(op === '-I' ? [rest[0], ...rest.slice(2)] : rest).join(' ')}`;
      if ((op === '-A' || op === '-I') && ++attempts < 3) throw Object.assign(new Error('xtables lock busy'), { code: 4 });
      if (op === '-A' || op === '-I') rules.add(key);
      if (op === '-D') rules.delete(key);
      if (op === '-C' && !rules.has(key)) throw Object.assign(new Error('missing'), { code: 1 });
    };
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    namespaces.replaceAll([]);
    pods.replaceAll([]);
    const proxy = await startProxy(
      parseConfig({
        PODIAM_CLUSTER_NAME: 'c', NODE_NAME: 'n', HOST_IP: '192.0.2.1', PODIAM_PORT: '0', PODIAM_METRICS_PORT: '0', PODIAM_LISTEN_ADDRESS: '127.0.0.1',
        PODIAM_AWS_REGION: 'us-east-1', PODIAM_ACCOUNT_ID: '123456789012', PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9', PODIAM_LOG_LEVEL: 'silent',
      }),
      {
        indexes: { pods, namespaces },
        iptablesRunner: runner,
        credentialSource: { assume: () => Promise.reject(new Error('not used')) },
        logger: createLogger('silent'),
        defaultMetrics: false,
      },
    );
    running.push(proxy);
    assert.equal(await get(proxy.metricsPort!, '/readyz'), 503);
    await proxy.ready;
    assert.equal(attempts, 4, 'two failed adds, then the guard and the DNAT rule');
    assert.equal(rules.size, 2);
    assert.equal(await get(proxy.metricsPort!, '/readyz'), 200);
    assert.equal(await get(proxy.port, '/healthz'), 200);
    await proxy.stop();
    assert.equal(rules.size, 0, 'the rules are removed on stop when no DaemonSet is named');
  });
});
