// The proxy writes its Prometheus exposition itself (proxy/src/prometheus.ts) instead of loading
// prom-client (about 10 MB resident). What a scrape shows must stay byte for byte what prom-client
// showed for the same names, help texts, labels and events: the chart's dashboard and alerts read
// it. prom-client stays here as the reference.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter as RefCounter, Gauge as RefGauge, Histogram as RefHistogram, Registry as RefRegistry } from 'prom-client';
import { ProxyMetrics, REQUEST_BUCKETS } from '../../../proxy/src/metrics.ts';
import { Counter, Gauge, Registry } from '../../../proxy/src/prometheus.ts';

const SAMPLES: Array<[string, number, number]> = [
  ['credentials', 200, 0.0001],
  ['credentials', 200, 0.0005],
  ['credentials', 200, 0.0007],
  ['credentials', 200, 0.003],
  ['credentials', 503, 0.6],
  ['token', 200, 0.00002],
  ['error', 404, 2.5],
  ['credentials', 200, 1],
];

/** Label values a denial code or an error name could carry if it ever held odd characters. */
const ODD = 'back\\slash "quoted"\nnew line';

/** The metric's block (HELP, TYPE and its lines) from a scrape. */
function block(text: string, name: string): string {
  return text
    .split('\n\n')
    .find((b) => b.startsWith(`# HELP ${name} `))!
    .trim();
}

/**
 * The proxy's own metrics as prom-client defined them before the change, in the same order:
 * names, help texts, types and label names are the contract with the chart.
 */
function referenceRegistry(stale: () => number): { registry: RefRegistry; hits: RefCounter; misses: RefCounter; stsErrors: RefCounter<'error'>; denials: RefCounter<'code'>; pods: RefGauge; relists: RefCounter<'resource'>; refused: RefCounter<'reason'>; open: RefGauge; histogram: RefHistogram<'route' | 'status'> } {
  const registry = new RefRegistry();
  const registers = [registry];
  const hits = new RefCounter({ name: 'podiam_proxy_credential_cache_hits_total', help: 'Credential requests answered from the cache.', registers });
  const misses = new RefCounter({ name: 'podiam_proxy_credential_cache_misses_total', help: 'Credential requests that had to wait for STS.', registers });
  new RefCounter({ name: 'podiam_proxy_sts_assume_role_calls_total', help: 'AssumeRole calls made.', registers });
  const stsErrors = new RefCounter({ name: 'podiam_proxy_sts_assume_role_errors_total', help: 'AssumeRole calls that failed, by error name.', labelNames: ['error'] as const, registers });
  const denials = new RefCounter({ name: 'podiam_proxy_denials_total', help: 'Requests refused, by code.', labelNames: ['code'] as const, registers });
  const pods = new RefGauge({ name: 'podiam_proxy_pods_indexed', help: 'Pods of this node in the index.', registers });
  const staleGauge: RefGauge = new RefGauge({
    name: 'podiam_proxy_pod_index_stale_seconds',
    help: 'Seconds since the API server last answered, while a pod or namespace watch is broken after a first sync; 0 while synced (and before the first sync).',
    registers,
    collect: () => staleGauge.set(stale()),
  });
  new RefCounter({ name: 'podiam_proxy_stale_answers_total', help: 'Requests answered for a pod known before the watch broke, within PODIAM_STALE_INDEX_WINDOW_MS.', registers });
  new RefCounter({
    name: 'podiam_proxy_stale_owner_changed_total',
    help: 'IPs answered from a stale index for a pod that, once synced again, no longer held that IP (it may have been reused by another pod during the outage).',
    registers,
  });
  const relists = new RefCounter({ name: 'podiam_proxy_kube_relists_total', help: 'Pod or namespace lists after a broken watch or 410 Gone.', labelNames: ['resource'] as const, registers });
  new RefCounter({ name: 'podiam_proxy_revoked_credentials_dropped_total', help: "Cached credentials dropped because their namespace's podiam.io/sessions-revoked-at is later than their issue time.", registers });
  const refused = new RefCounter({
    name: 'podiam_proxy_connections_refused_total',
    help: 'Sockets closed by the connection guard, by reason: max_connections, max_connections_per_ip, first_byte_timeout, pipelining.',
    labelNames: ['reason'] as const,
    registers,
  });
  const open = new RefGauge({ name: 'podiam_proxy_open_connections', help: 'Sockets open on the metadata listener.', registers });
  new RefCounter({ name: 'podiam_proxy_iptables_rule_restored_total', help: 'Times the DNAT rule was found missing and added again.', registers });
  const histogram = new RefHistogram({ name: 'podiam_proxy_request_duration_seconds', help: 'Time to answer a metadata request, by route and status.', labelNames: ['route', 'status'] as const, buckets: [...REQUEST_BUCKETS], registers });
  return { registry, hits, misses, stsErrors, denials, pods, relists, refused, open, histogram };
}

/** A line of the text format: name, optional labels (with escaped values), value. */
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;

/** Parses an exposition into name → samples, failing on any line the format does not allow. */
function parse(text: string): Map<string, { type: string; samples: Array<{ name: string; labels: string; value: number }> }> {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const metrics = new Map<string, { type: string; samples: Array<{ name: string; labels: string; value: number }> }>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (help) {
      current = help[1]!;
      assert.ok(!metrics.has(current), `${current} appears once`);
    } else if (type) {
      assert.equal(type[1], current, 'TYPE follows its HELP');
      metrics.set(current!, { type: type[2]!, samples: [] });
    } else {
      const m = SAMPLE_LINE.exec(line);
      assert.ok(m, `a valid sample line: ${JSON.stringify(line)}`);
      assert.ok(current && m[1]!.startsWith(current), `${m[1]} belongs to ${current}`);
      metrics.get(current)!.samples.push({ name: m[1]!, labels: m[2] ?? '', value: Number(m[3]!.replace('Inf', 'Infinity')) });
    }
  }
  return metrics;
}

describe('proxy metrics', () => {
  it("exposes request latency exactly as prom-client's own histogram would", async () => {
    const metrics = new ProxyMetrics(false);
    const reference = new RefRegistry();
    const histogram = new RefHistogram({ name: metrics.requestSeconds.name, help: metrics.requestSeconds.help, labelNames: ['route', 'status'], buckets: [...REQUEST_BUCKETS], registers: [reference] });
    for (const [route, status, seconds] of SAMPLES) {
      metrics.observeRequest(route, status, seconds);
      histogram.observe({ route, status: String(status) }, seconds);
    }
    const name = 'podiam_proxy_request_duration_seconds';
    const ours = block(metrics.registry.metrics(), name);
    assert.equal(ours, block(await reference.metrics(), name));
    assert.match(ours, /_bucket\{le="0\.001",route="credentials",status="200"\} 3\n/);
    assert.match(ours, /_bucket\{le="\+Inf",route="credentials",status="200"\} 5\n/);
  });

  it('counts cache hits counted on the hot path once they are read, and only once', async () => {
    const metrics = new ProxyMetrics(false);
    const reference = new RefRegistry();
    const counter = new RefCounter({ name: 'podiam_proxy_credential_cache_hits_total', help: 'Credential requests answered from the cache.', registers: [reference] });
    for (let i = 0; i < 7; i++) metrics.countHit();
    counter.inc(7);
    const name = 'podiam_proxy_credential_cache_hits_total';
    assert.equal(block(metrics.registry.metrics(), name), block(await reference.metrics(), name));
    metrics.countHit();
    assert.equal((await metrics.cacheHits.get()).values[0]?.value, 8);
    assert.equal((await metrics.cacheHits.get()).values[0]?.value, 8);
  });

  it("writes every proxy metric, with labels, escaped label values and gauges read at scrape time, byte for byte as prom-client did", async () => {
    // Prepare: the same events on both sides.
    let stale = 0;
    const metrics = new ProxyMetrics(false);
    metrics.staleAgeSeconds = () => stale;
    const ref = referenceRegistry(() => stale);
    for (let i = 0; i < 3; i++) metrics.countHit();
    ref.hits.inc(3);
    metrics.cacheMisses.inc();
    ref.misses.inc();
    metrics.stsErrors.inc({ error: 'AccessDenied' });
    metrics.stsErrors.inc({ error: ODD });
    metrics.stsErrors.inc({ error: 'AccessDenied' }, 2);
    ref.stsErrors.inc({ error: 'AccessDenied' });
    ref.stsErrors.inc({ error: ODD });
    ref.stsErrors.inc({ error: 'AccessDenied' }, 2);
    metrics.denials.inc({ code: 'PODIAM_ROLE_NOT_PERMITTED' });
    ref.denials.inc({ code: 'PODIAM_ROLE_NOT_PERMITTED' });
    metrics.relists.inc({ resource: 'pods' });
    metrics.relists.inc({ resource: 'namespaces' });
    ref.relists.inc({ resource: 'pods' });
    ref.relists.inc({ resource: 'namespaces' });
    metrics.connectionsRefused.inc({ reason: 'pipelining' }, 4);
    ref.refused.inc({ reason: 'pipelining' }, 4);
    metrics.podsIndexed.set(12);
    ref.pods.set(12);
    metrics.openConnections.set(0.5);
    ref.open.set(0.5);
    for (const [route, status, seconds] of SAMPLES) {
      metrics.observeRequest(route, status, seconds);
      ref.histogram.observe({ route, status: String(status) }, seconds);
    }
    // Act and assess: the whole exposition, twice (the stale gauge is read at each scrape).
    assert.equal(metrics.registry.metrics(), await ref.registry.metrics());
    stale = 37.25;
    const second = metrics.registry.metrics();
    assert.equal(second, await ref.registry.metrics());
    assert.match(second, /^podiam_proxy_sts_assume_role_errors_total\{error="back\\\\slash \\"quoted\\"\\nnew line"\} 1$/m);
    assert.match(second, /^podiam_proxy_pod_index_stale_seconds 37\.25$/m);
    assert.equal(metrics.registry.contentType, ref.registry.contentType);
  });

  it("escapes backslashes and newlines in help text as prom-client does", async () => {
    const help = 'A \\ backslash,\na newline and "quotes" left alone.';
    const ours = new Registry();
    ours.register(new Counter('c_total', help, ['k'])).inc({ k: ODD });
    ours.register(new Gauge('g', help)).set(-3);
    const reference = new RefRegistry();
    new RefCounter({ name: 'c_total', help, labelNames: ['k'], registers: [reference] }).inc({ k: ODD });
    new RefGauge({ name: 'g', help, registers: [reference] }).set(-3);
    assert.equal(ours.metrics(), await reference.metrics());
  });

  it('refuses to decrease a counter', () => {
    const c = new Counter('c_total', 'help', ['k']);
    assert.throws(() => c.inc(-1), RangeError);
    assert.throws(() => c.inc({ k: 'a' }, Number.NaN), RangeError);
  });

  it("exports the process and Node.js metrics with sane values, in a parseable exposition", async () => {
    const metrics = new ProxyMetrics(true);
    metrics.registry.metrics();
    await new Promise((r) => setTimeout(r, 50));
    const parsed = parse(metrics.registry.metrics());
    const value = (name: string): number => {
      const m = parsed.get(`podiam_proxy_${name}`);
      assert.ok(m && m.samples.length > 0, `podiam_proxy_${name} has a value`);
      return m.samples[0]!.value;
    };
    const rss = process.memoryUsage().rss;
    assert.ok(Math.abs(value('process_resident_memory_bytes') - rss) < rss * 0.5, `rss ${value('process_resident_memory_bytes')} against ${rss}`);
    assert.ok(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 2, 'start time near the process start');
    assert.ok(value('process_cpu_seconds_total') > 0);
    assert.ok(Math.abs(value('process_cpu_seconds_total') - value('process_cpu_user_seconds_total') - value('process_cpu_system_seconds_total')) < 1e-6);
    assert.equal(parsed.get('podiam_proxy_process_cpu_seconds_total')?.type, 'counter');
    if (process.platform === 'linux') {
      assert.ok(value('process_open_fds') > 0);
      assert.ok(value('process_max_fds') >= value('process_open_fds'));
      assert.ok(value('process_virtual_memory_bytes') >= value('process_resident_memory_bytes'));
      assert.ok(value('process_heap_bytes') > 0);
    }
    const heap = process.memoryUsage().heapTotal;
    assert.ok(Math.abs(value('nodejs_heap_size_total_bytes') - heap) < heap * 0.5);
    assert.ok(value('nodejs_heap_size_used_bytes') > 0);
    assert.ok(value('nodejs_external_memory_bytes') > 0);
    assert.ok(value('nodejs_active_resources_total') >= 0);
    // The loop was sampled every 10 ms during the 50 ms wait: a delay of at least the resolution.
    assert.ok(value('nodejs_eventloop_lag_p99_seconds') >= value('nodejs_eventloop_lag_p50_seconds'));
    assert.ok(value('nodejs_eventloop_lag_max_seconds') > 0);
    assert.ok(value('nodejs_eventloop_lag_seconds') >= 0);
    const [major, minor, patch] = process.version.slice(1).split('.');
    assert.deepEqual(parsed.get('podiam_proxy_nodejs_version_info')?.samples, [{ name: 'podiam_proxy_nodejs_version_info', labels: `{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"}`, value: 1 }]);
    // No GC histogram: process-metrics.ts says why.
    assert.equal(parsed.get('podiam_proxy_nodejs_gc_duration_seconds'), undefined);
  });

  it('keeps the default metrics the chart, docs and operators read, and names the ones it left out', () => {
    const names = new ProxyMetrics(true).registry.snapshots().map((m) => m.name.replace(/^podiam_proxy_/, ''));
    const kept = [
      'process_cpu_user_seconds_total',
      'process_cpu_system_seconds_total',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      ...(process.platform === 'linux' ? ['process_virtual_memory_bytes', 'process_heap_bytes', 'process_open_fds', 'process_max_fds'] : []),
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_min_seconds',
      'nodejs_eventloop_lag_max_seconds',
      'nodejs_eventloop_lag_mean_seconds',
      'nodejs_eventloop_lag_stddev_seconds',
      'nodejs_eventloop_lag_p50_seconds',
      'nodejs_eventloop_lag_p90_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_active_resources',
      'nodejs_active_resources_total',
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_version_info',
    ];
    assert.deepEqual(names.slice(15), kept);
  });
});
