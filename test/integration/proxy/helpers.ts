/** Shared by the proxy's integration tests (not a test file). */
import { request } from 'node:http';
import { connect } from 'node:net';
import { parseConfig, type ProxyConfig } from '../../../proxy/src/config.ts';
import type { PodObject } from '../../../proxy/src/k8s/pod-index.ts';
import { managedRoleArn } from '../../../core/src/naming.ts';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen loopback source address (the "pod"), bounded by a timeout. */
export function call(port: number, path: string, opts: { from?: string; method?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {}, localAddress: opts.from ?? '127.0.0.1', agent: false, timeout: opts.timeoutMs ?? 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer for ${path} within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Writes raw bytes and collects what comes back until the server closes (or timeoutMs). */
export function raw(port: number, bytes: string | Buffer, opts: { from?: string; timeoutMs?: number; keepOpen?: boolean } = {}): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: opts.from ?? '127.0.0.1' });
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closedByServer: false });
    }, opts.timeoutMs ?? 5000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (text) resolve({ text, closedByServer: true });
      else reject(err);
    });
    sock.write(bytes);
    if (!opts.keepOpen) sock.end();
  });
}

export function testConfig(env: Record<string, string>): ProxyConfig {
  return parseConfig({
    PODIAM_CLUSTER_NAME: 'test',
    PODIAM_NODE_NAME: 'node-a',
    PODIAM_IPTABLES: 'false',
    PODIAM_PORT: '0',
    PODIAM_METRICS_PORT: '0',
    PODIAM_LISTEN_ADDRESS: '127.0.0.1',
    PODIAM_LOG_LEVEL: 'silent',
    // These tests reach paths with plain GETs (IMDSv1) on purpose; the product default (IMDSv2
    // required) is tested in test/unit/proxy/config.test.ts and test/integration/proxy/faults.test.ts.
    PODIAM_REQUIRE_IMDSV2: 'false',
    ...env,
  });
}

let counter = 0;
export function podObject(name: string, namespace: string, ip: string, annotations: Record<string, string> = {}, uid = `uid-${name}-${++counter}`): PodObject {
  return { metadata: { uid, name, namespace, annotations }, spec: { serviceAccountName: 'default' }, status: { phase: 'Running', podIP: ip } };
}

/**
 * The managed roles these tests' pods are given (cluster 'test'), for moto to hold before the proxy assumes them:
 * the patched moto (test/peers/moto-patch) refuses AssumeRole of a role that does not exist, as AWS does.
 */
export const TEST_ROLE_ARNS: readonly string[] = (
  [
    ['orders', 'reader'],
    ['orders', 'writer'],
    ['billing', 'writer'],
  ] as const
).map(([namespace, service]) => managedRoleArn({ accountId: '123456789012' }, { cluster: 'test', namespace, service }));
