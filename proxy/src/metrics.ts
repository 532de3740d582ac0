/**
 * The proxy's Prometheus metrics on their own registry (several proxies can share a test process),
 * written by proxy/src/prometheus.ts in the format prom-client wrote: the chart's dashboard and
 * alerts read the same names, help texts, types and labels.
 *
 * What every request touches (the latency histogram, cache hits) is counted in plain numbers
 * (typed arrays, a field) and only turned into samples at scrape time: no per-call string work.
 */
import { BucketCounts, Counter, Gauge, Registry, type MetricSnapshot, type Metric, type Sample } from './prometheus.ts';
import { registerProcessMetrics } from './process-metrics.ts';

export const REQUEST_BUCKETS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1];

/** A histogram by route and status; both come from small fixed sets, so lookups do no string work. */
export class RequestHistogram implements Metric {
  readonly type = 'histogram';
  /** route → status → counts, with the labels as the scrape writes them. */
  private readonly byRoute = new Map<string, Map<number, { labels: { route: string; status: string }; counts: BucketCounts }>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(route: string, status: number, seconds: number): void {
    let byStatus = this.byRoute.get(route);
    if (!byStatus) this.byRoute.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = { labels: { route, status: String(status) }, counts: new BucketCounts(this.buckets) }));
    series.counts.observe(seconds);
  }

  snapshot(): MetricSnapshot {
    const values: Sample[] = [];
    for (const byStatus of this.byRoute.values()) for (const s of byStatus.values()) s.counts.samples(this.name, s.labels, values);
    return { name: this.name, help: this.help, type: this.type, values };
  }

  get(): Promise<MetricSnapshot> {
    return Promise.resolve(this.snapshot());
  }

  reset(): void {
    this.byRoute.clear();
  }
}

export class ProxyMetrics {
  readonly registry = new Registry();
  private hits = 0;
  /** Counted with countHit() on the hot path; folded in when read. */
  readonly cacheHits = this.registry.register(
    new Counter('podiam_proxy_credential_cache_hits_total', 'Credential requests answered from the cache.', [], () => {
      if (this.hits === 0) return;
      this.cacheHits.inc(this.hits);
      this.hits = 0;
    }),
  );
  readonly cacheMisses = this.registry.register(new Counter('podiam_proxy_credential_cache_misses_total', 'Credential requests that had to wait for STS.'));
  readonly stsCalls = this.registry.register(new Counter('podiam_proxy_sts_assume_role_calls_total', 'AssumeRole calls made.'));
  readonly stsErrors = this.registry.register(new Counter('podiam_proxy_sts_assume_role_errors_total', 'AssumeRole calls that failed, by error name.', ['error']));
  readonly denials = this.registry.register(new Counter('podiam_proxy_denials_total', 'Requests refused, by code.', ['code']));
  readonly podsIndexed = this.registry.register(new Gauge('podiam_proxy_pods_indexed', 'Pods of this node in the index.'));
  /** Read at scrape time; proxy.ts points it at the pod lookup's freshness. */
  staleAgeSeconds: () => number = () => 0;
  readonly indexStaleSeconds = this.registry.register(
    new Gauge(
      'podiam_proxy_pod_index_stale_seconds',
      'Seconds since the API server last answered, while a pod or namespace watch is broken after a first sync; 0 while synced (and before the first sync).',
      () => this.staleAgeSeconds(),
    ),
  );
  readonly staleAnswers = this.registry.register(new Counter('podiam_proxy_stale_answers_total', 'Requests answered for a pod known before the watch broke, within PODIAM_STALE_INDEX_WINDOW_MS.'));
  readonly staleOwnerChanged = this.registry.register(
    new Counter(
      'podiam_proxy_stale_owner_changed_total',
      'IPs answered from a stale index for a pod that, once synced again, no longer held that IP (it may have been reused by another pod during the outage).',
    ),
  );
  readonly relists = this.registry.register(new Counter('podiam_proxy_kube_relists_total', 'Pod or namespace lists after a broken watch or 410 Gone.', ['resource']));
  readonly revokedEvictions = this.registry.register(
    new Counter('podiam_proxy_revoked_credentials_dropped_total', "Cached credentials dropped because their namespace's podiam.io/sessions-revoked-at is later than their issue time."),
  );
  readonly connectionsRefused = this.registry.register(
    new Counter('podiam_proxy_connections_refused_total', 'Sockets closed by the connection guard, by reason: max_connections, max_connections_per_ip, first_byte_timeout, pipelining.', ['reason']),
  );
  readonly openConnections = this.registry.register(new Gauge('podiam_proxy_open_connections', 'Sockets open on the metadata listener.'));
  readonly iptablesRestored = this.registry.register(new Counter('podiam_proxy_iptables_rule_restored_total', 'Times the DNAT rule was found missing and added again.'));
  readonly requestSeconds = this.registry.register(new RequestHistogram('podiam_proxy_request_duration_seconds', 'Time to answer a metadata request, by route and status.', REQUEST_BUCKETS));

  observeRequest(route: string, status: number, seconds: number): void {
    this.requestSeconds.observe(route, status, seconds);
  }

  countHit(): void {
    this.hits++;
  }

  /** `defaultMetrics`: also the process and Node.js metrics (CPU, memory, descriptors, event loop, GC). */
  constructor(defaultMetrics = true) {
    if (defaultMetrics) registerProcessMetrics(this.registry, 'podiam_proxy_');
  }
}
