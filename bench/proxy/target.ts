// A server under load for bench/proxy/run.ts, in its own process so the load generator does not
// share its event loop. Modes:
//   proxy <pods> <imdsEndpoint> <stsEndpoint> — the real proxy (startProxy), pods at 127.0.1.x..,
//                                             credentials prefetched from moto, then "ready"
//   bare                                      — node:http answering the same JSON
//   rss <pods> <imdsEndpoint> <stsEndpoint>   — the proxy with <pods> pods indexed; prints RSS
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../proxy/src/config.ts';
import { startProxy } from '../../proxy/src/proxy.ts';
import { PodIndex, type PodObject } from '../../proxy/src/k8s/pod-index.ts';
import { NamespaceIndex } from '../../proxy/src/k8s/namespace-index.ts';

export function podIp(i: number): string {
  return `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** A pod object about the size the API server sends (labels, owner, containers, conditions). */
export function fakePodJson(i: number): PodObject {
  const name = `app-${i}-7d9f8c6b5-x${(i * 7919).toString(36)}`;
  return JSON.parse(
    JSON.stringify({
      metadata: {
        name,
        namespace: `team-${i % 50}`,
        uid: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
        resourceVersion: String(1000 + i),
        labels: { app: `app-${i}`, 'pod-template-hash': '7d9f8c6b5', tier: 'backend' },
        annotations: { 'iam.amazonaws.com/role': 'reader', 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i}-7d9f8c6b5`, uid: 'x', controller: true }],
      },
      spec: {
        nodeName: 'bench-node',
        serviceAccountName: 'default',
        containers: [{ name: 'app', image: 'registry.example/app:1.2.3', ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '128Mi' } }, env: [{ name: 'A', value: 'b' }] }],
      },
      status: { phase: 'Running', podIP: podIp(i), podIPs: [{ ip: podIp(i) }], conditions: [{ type: 'Ready', status: 'True' }], qosClass: 'Burstable' },
    }),
  ) as PodObject;
}

export const SAMPLE_JSON = JSON.stringify(
  { Code: 'Success', LastUpdated: '2026-01-01T00:00:00Z', Type: 'AWS-HMAC', AccessKeyId: 'ASIAEXAMPLEEXAMPLE00', SecretAccessKey: 'x'.repeat(40), Token: 't'.repeat(600), Expiration: '2026-01-01T01:00:00Z' },
  null,
  2,
);

async function main(): Promise<void> {
  const [mode, podsArg, imds, sts] = process.argv.slice(2);
  if (mode === 'bare') {
    const server: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(SAMPLE_JSON)) });
      res.end(SAMPLE_JSON);
    });
    server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })));
    return;
  }
  const n = Number(podsArg);
  const pods = new PodIndex();
  const namespaces = new NamespaceIndex();
  namespaces.replaceAll([]);
  // As the reflector does with a paged list: 500 pods at a time, never the whole list at once.
  pods.beginRelist();
  for (let page = 0; page * 500 < n; page++) {
    pods.addListed(Array.from({ length: Math.min(500, n - page * 500) }, (_, k) => fakePodJson(page * 500 + k)));
  }
  pods.endRelist();
  const proxy = await startProxy(
    parseConfig({
      PODIAM_CLUSTER_NAME: 'bench',
      PODIAM_NODE_NAME: 'bench-node',
      PODIAM_IPTABLES: 'false',
      PODIAM_PORT: '0',
      PODIAM_METRICS_PORT: '-1',
      PODIAM_LISTEN_ADDRESS: '127.0.0.1',
      PODIAM_LOG_LEVEL: 'silent',
      PODIAM_IMDS_UPSTREAM: imds!,
      PODIAM_STS_ENDPOINT: sts!,
      PODIAM_AWS_REGION: 'us-east-1',
      PODIAM_ACCOUNT_ID: '123456789012',
      PODIAM_PREFETCH: mode === 'proxy' ? 'true' : 'false',
      // The load generator sends plain GETs (as the earlier figures did): IMDSv1 is allowed here so
      // the comparison with them and with the bare server stays like for like.
      PODIAM_REQUIRE_IMDSV2: 'false',
    }),
    { indexes: { pods, namespaces } },
  );
  await proxy.ready;
  if (mode === 'proxy') {
    // Wait (bounded) until every pod's credentials are cached: the benchmark measures the hot path.
    for (let i = 0; i < 600 && Number((await proxy.metrics.stsCalls.get()).values[0]?.value ?? 0) < n; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
  }
  // Steady state: collect, let V8's memory reducer return freed pages while idle, collect again.
  global.gc?.();
  await new Promise((r) => setTimeout(r, mode === 'rss' ? 5000 : 200));
  global.gc?.();
  console.log(JSON.stringify({ ready: true, port: proxy.port, rssBytes: process.memoryUsage().rss, heapUsedBytes: process.memoryUsage().heapUsed, pods: proxy.pods.size }));
}

// SIGUSR2: print the CPU time used so far, so the benchmark can compute CPU per request.
process.on('SIGUSR2', () => console.log(JSON.stringify({ cpuMicros: process.cpuUsage().user + process.cpuUsage().system })));
process.once('SIGTERM', () => process.exit(0)); // exit cleanly, so --cpu-prof can write its profile
if (import.meta.url === `file://${process.argv[1]}`) await main();
