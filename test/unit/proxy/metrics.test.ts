// The proxy counts per-request metrics in plain numbers and hands them to prom-client at scrape
// time (proxy/src/metrics.ts). What a scrape shows must be what prom-client's own Histogram and
// Counter would have shown for the same requests: the chart's dashboard and alerts read it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { ProxyMetrics, REQUEST_BUCKETS } from '../../../proxy/src/metrics.ts';

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

/** The metric's block (HELP, TYPE and its lines) from a scrape. */
function block(text: string, name: string): string {
  return text
    .split('\n\n')
    .find((b) => b.startsWith(`# HELP ${name} `))!
    .trim();
}

describe('proxy metrics', () => {
  it("exposes request latency exactly as prom-client's own histogram would", async () => {
    // Prepare: the reference, prom-client's Histogram with the same name, help, labels and buckets.
    const metrics = new ProxyMetrics(false);
    const reference = new Registry();
    const histogram = new Histogram({ name: metrics.requestSeconds.name, help: metrics.requestSeconds.help, labelNames: ['route', 'status'], buckets: [...REQUEST_BUCKETS], registers: [reference] });
    // Act
    for (const [route, status, seconds] of SAMPLES) {
      metrics.observeRequest(route, status, seconds);
      histogram.observe({ route, status: String(status) }, seconds);
    }
    // Assess
    const name = 'podiam_proxy_request_duration_seconds';
    const ours = block(await metrics.registry.metrics(), name);
    assert.equal(ours, block(await reference.metrics(), name));
    assert.match(ours, /_bucket\{le="0\.001",route="credentials",status="200"\} 3\n/);
  });

  it('counts cache hits counted on the hot path once they are read, and only once', async () => {
    const metrics = new ProxyMetrics(false);
    const reference = new Registry();
    const counter = new Counter({ name: 'podiam_proxy_credential_cache_hits_total', help: 'Credential requests answered from the cache.', registers: [reference] });
    for (let i = 0; i < 7; i++) metrics.countHit();
    counter.inc(7);
    const name = 'podiam_proxy_credential_cache_hits_total';
    assert.equal(block(await metrics.registry.metrics(), name), block(await reference.metrics(), name));
    metrics.countHit();
    assert.equal((await metrics.cacheHits.get()).values[0]?.value, 8);
    assert.equal((await metrics.cacheHits.get()).values[0]?.value, 8);
  });
});
