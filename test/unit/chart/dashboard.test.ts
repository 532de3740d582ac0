// The Grafana dashboard the chart ships queries only metrics the proxy really exports, with the
// labels the proxy (or the chart's ServiceMonitor/PodMonitor relabeling) puts on them.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ProxyMetrics } from '../../../proxy/src/metrics.ts';
import { chartDir } from './chart.ts';

interface Dashboard {
  uid: string;
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ query?: unknown }> };
}

const dashboard = JSON.parse(readFileSync(path.join(chartDir, 'dashboards/podiam-proxy.json'), 'utf8')) as Dashboard;
const queries = [
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.templating.list.filter((v) => typeof v.query === 'string' && v.query.includes('podiam_')).map((v) => ({ where: 'variable', expr: v.query as string })),
];

describe('Grafana dashboard', () => {
  it('queries only metrics the proxy registers', async () => {
    const registered = new Map<string, string[]>();
    for (const m of new ProxyMetrics(true).registry.snapshots()) {
      registered.set(m.name, [...new Set(m.values.flatMap((v) => Object.keys(v.labels)))]);
    }
    const unknown: string[] = [];
    for (const q of queries) {
      for (const name of q.expr.match(/podiam_[a-z_]+/g) ?? []) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        if (!registered.has(name) && !registered.has(base)) unknown.push(`${q.where}: ${name}`);
      }
    }
    assert.ok(queries.length >= 8, `${queries.length} queries`);
    assert.deepEqual(unknown, []);
  });

  it('groups only by labels the proxy sets or the chart\'s monitors add', () => {
    const allowed = new Set(['le', 'route', 'status', 'error', 'code', 'resource', 'node', 'job']);
    const used = queries.flatMap((q) => [...q.expr.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())));
    assert.ok(used.length > 0);
    assert.deepEqual(used.filter((l) => !allowed.has(l)), []);
  });

  it('relabels the node name onto scraped series, which the dashboard filters on', () => {
    for (const file of ['servicemonitor.yaml', 'podmonitor.yaml']) {
      const text = readFileSync(path.join(chartDir, 'templates', file), 'utf8');
      assert.match(text, /sourceLabels: \[__meta_kubernetes_pod_node_name\]\s+targetLabel: node/);
    }
  });
});
