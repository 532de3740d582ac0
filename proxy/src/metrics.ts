/**
 * Prometheus metrics on their own registry (several proxies can share a test process).
 *
 * What every request touches (the latency histogram, cache hits) is counted in plain numbers and
 * handed to prom-client only at scrape time: prom-client 15 validates and hashes the labels on
 * every observe()/inc(), about 6 % of a cached answer's CPU. Names, labels and buckets are as
 * before, so the chart's dashboard and alerts read the same series.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export const REQUEST_BUCKETS: readonly number[] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1];

interface Series {
  labels: { route: string; status: string };
  /** Per bucket, not cumulative; the last slot counts what is above the largest bound (+Inf). */
  counts: Float64Array;
  sum: number;
  count: number;
}

interface ExportedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/**
 * A histogram by route and status in typed arrays, registered as a prom-client metric: the
 * registry calls get() at scrape time and formats it as it formats its own histograms.
 */
export class RequestHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** route → status → series: both keys come from small fixed sets, so lookups do no string work. */
  private readonly byRoute = new Map<string, Map<number, Series>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(route: string, status: number, seconds: number): void {
    let byStatus = this.byRoute.get(route);
    if (!byStatus) this.byRoute.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = { labels: { route, status: String(status) }, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    const b = this.buckets;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    for (const byStatus of this.byRoute.values()) {
      for (const s of byStatus.values()) {
        let cumulative = 0;
        for (let i = 0; i < this.buckets.length; i++) {
          cumulative += s.counts[i]!;
          values.push({ value: cumulative, labels: { le: this.buckets[i]!, ...s.labels }, metricName: `${this.name}_bucket` });
        }
        values.push({ value: s.count, labels: { le: '+Inf', ...s.labels }, metricName: `${this.name}_bucket` });
        values.push({ value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` });
        values.push({ value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` });
      }
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.byRoute.clear();
  }
}

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requestSeconds = new RequestHistogram('podiam_proxy_request_duration_seconds', 'Time to answer a metadata request, by route and status.', REQUEST_BUCKETS);
  private hits = 0;
  /** Counted with countHit() on the hot path; handed to prom-client when read. */
  readonly cacheHits: Counter = new Counter({
    name: 'podiam_proxy_credential_cache_hits_total',
    help: 'Credential requests answered from the cache.',
    registers: [this.registry],
    collect: (): void => {
      if (this.hits === 0) return;
      this.cacheHits.inc(this.hits);
      this.hits = 0;
    },
  });
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

  observeRequest(route: string, status: number, seconds: number): void {
    this.requestSeconds.observe(route, status, seconds);
  }

  countHit(): void {
    this.hits++;
  }

  constructor(defaultMetrics = true) {
    this.registry.registerMetric(this.requestSeconds as unknown as Metric);
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'podiam_proxy_' });
  }
}
