// Security regression (issue 11, item 11): every refused request logged one line, and a fuzzing
// pod wrote 19,000 lines. Drives the real listener (startProxy, IMDSv2 required as shipped) over
// loopback and reads what the real logger wrote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { Writable } from 'node:stream';
import { startProxy, type RunningProxy } from '../../../proxy/src/proxy.ts';
import { PodIndex } from '../../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../../proxy/src/k8s/namespace-index.ts';
import { createLogger } from '../../../proxy/src/log.ts';
import { call, testConfig } from './helpers.ts';

interface Line {
  msg: string;
  ip?: string;
  code?: string;
}

/** n GETs without a token (refused with 401 PODIAM_IMDS_TOKEN_REQUIRED) over a few keep-alive sockets. */
async function refusedRequests(port: number, from: string, n: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    return await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/latest/meta-data/iam/security-credentials/', localAddress: from, agent, timeout: 10_000 }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('timeout', () => req.destroy(new Error('no answer')));
          req.on('error', reject);
          req.end();
        }),
      ),
    );
  } finally {
    agent.destroy();
  }
}

describe('log lines of refused requests under a flood from one pod', () => {
  let proxy: RunningProxy;
  const lines: Line[] = [];

  before(async () => {
    const pods = new PodIndex();
    const namespaces = new NamespaceIndex();
    pods.replaceAll([]);
    namespaces.replaceAll([]);
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Line);
        done();
      },
    });
    proxy = await startProxy(
      testConfig({
        PODIAM_REQUIRE_IMDSV2: 'true',
        PODIAM_AWS_REGION: 'us-east-1',
        PODIAM_ACCOUNT_ID: '123456789012',
        PODIAM_IMDS_UPSTREAM: 'http://127.0.0.1:9',
        PODIAM_PREFETCH: 'false',
      }),
      { indexes: { pods, namespaces }, logger: createLogger('info', destination) },
    );
    await proxy.ready;
  });

  after(async () => {
    await proxy?.stop();
  });

  it('writes at most five lines for 1,000 refusals from one source IP, and the metrics count all 1,000', async () => {
    const statuses = await refusedRequests(proxy.port, '127.0.0.61', 1000);
    assert.equal(statuses.filter((s) => s === 401).length, 1000, 'every request was refused');
    const fromFlooder = lines.filter((l) => l.ip === '127.0.0.61' && l.code === 'PODIAM_IMDS_TOKEN_REQUIRED');
    assert.ok(fromFlooder.length >= 1 && fromFlooder.length <= 5, `${fromFlooder.length} lines logged for 1,000 refusals`);
    const { values } = await proxy.metrics.denials.get();
    const counted = values.filter((v) => v.labels.code === 'PODIAM_IMDS_TOKEN_REQUIRED').reduce((n, v) => n + v.value, 0);
    assert.equal(counted, 1000);
  });

  it("still logs another pod's refusal while the flooder is suppressed", async () => {
    const answer = await call(proxy.port, '/latest/meta-data/iam/security-credentials/', { from: '127.0.0.62' });
    assert.equal(answer.status, 401);
    assert.equal(lines.filter((l) => l.ip === '127.0.0.62' && l.code === 'PODIAM_IMDS_TOKEN_REQUIRED').length, 1);
  });
});
