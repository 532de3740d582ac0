/** Prometheus metrics on their own registry (several proxies can share a test process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requestSeconds = new Histogram({
    name: 'podiam_proxy_request_duration_seconds',
    help: 'Time to answer a metadata request, by route and status.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({ name: 'podiam_proxy_credential_cache_hits_total', help: 'Credential requests answered from the cache.', registers: [this.registry] });
  readonly cacheMisses = new Counter({ name: 'podiam_proxy_credential_cache_misses_total', help: 'Credential requests that had to wait for STS.', registers: [this.registry] });
  readonly stsCalls = new Counter({ name: 'podiam_proxy_sts_assume_role_calls_total', help: 'AssumeRole calls made.', registers: [this.registry] });
  readonly stsErrors = new Counter({ name: 'podiam_proxy_sts_assume_role_errors_total', help: 'AssumeRole calls that failed, by error name.', labelNames: ['error'] as const, registers: [this.registry] });
  readonly denials = new Counter({ name: 'podiam_proxy_denials_total', help: 'Requests refused, by code.', labelNames: ['code'] as const, registers: [this.registry] });
  readonly podsIndexed = new Gauge({ name: 'podiam_proxy_pods_indexed', help: 'Pods of this node in the index.', registers: [this.registry] });
  /** Read at scrape time; proxy.ts points it at the pod lookup's freshness. */
  staleAgeSeconds: () => number = () => 0;
  readonly indexStaleSeconds: Gauge = new Gauge({
    name: 'podiam_proxy_pod_index_stale_seconds',
    help: 'Seconds since the API server last answered, while a pod or namespace watch is broken after a first sync; 0 while synced (and before the first sync).',
    registers: [this.registry],
    collect: (): void => this.indexStaleSeconds.set(this.staleAgeSeconds()),
  });
  readonly staleAnswers = new Counter({ name: 'podiam_proxy_stale_answers_total', help: 'Requests answered for a pod known before the watch broke, within PODIAM_STALE_INDEX_WINDOW_MS.', registers: [this.registry] });
  readonly staleOwnerChanged = new Counter({
    name: 'podiam_proxy_stale_owner_changed_total',
    help: 'IPs answered from a stale index for a pod that, once synced again, no longer held that IP (it may have been reused by another pod during the outage).',
    registers: [this.registry],
  });
  readonly relists = new Counter({ name: 'podiam_proxy_kube_relists_total', help: 'Pod or namespace lists after a broken watch or 410 Gone.', labelNames: ['resource'] as const, registers: [this.registry] });
  readonly revokedEvictions = new Counter({ name: 'podiam_proxy_revoked_credentials_dropped_total', help: "Cached credentials dropped because their namespace's podiam.io/sessions-revoked-at is later than their issue time.", registers: [this.registry] });
  readonly connectionsRefused = new Counter({
    name: 'podiam_proxy_connections_refused_total',
    help: 'Sockets closed by the connection guard, by reason: max_connections, max_connections_per_ip, first_byte_timeout, pipelining.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly openConnections = new Gauge({ name: 'podiam_proxy_open_connections', help: 'Sockets open on the metadata listener.', registers: [this.registry] });
  readonly iptablesRestored = new Counter({ name: 'podiam_proxy_iptables_rule_restored_total', help: 'Times the DNAT rule was found missing and added again.', registers: [this.registry] });

  private readonly latencyChildren = new Map<string, { observe(v: number): void }>();

  /** requestSeconds.observe without prom-client hashing the labels on every request. */
  observeRequest(route: string, status: number, seconds: number): void {
    const key = `${route} ${status}`;
    let child = this.latencyChildren.get(key);
    if (!child) {
      child = this.requestSeconds.labels(route, String(status));
      this.latencyChildren.set(key, child);
    }
    child.observe(seconds);
  }

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'podiam_proxy_' });
  }
}
