/**
 * A small Prometheus registry: counters, gauges and computed metrics in the text exposition
 * format 0.0.4, written as prom-client 15 writes it (same block order, label order, escaping and
 * number formatting), so a scrape reads the same series it read before.
 *
 * Why not prom-client: loading it (and its dependencies) keeps about 10 MB more resident in the
 * proxy on Node 24 (47.7 against 58.0 MB RSS for an idle node:http server), and issue 16 asks for
 * 60 MB idle. The proxy needs a dozen fixed metrics, not a client library.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type LabelValue = string | number;

export interface Sample {
  value: number;
  labels: Readonly<Record<string, LabelValue>>;
  /** For a histogram's `_bucket`, `_sum` and `_count` lines; the metric's name otherwise. */
  metricName?: string;
}

export interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  values: Sample[];
}

export interface Metric {
  readonly name: string;
  /** The metric's values now; called once per scrape. */
  snapshot(): MetricSnapshot;
}

/** Backslash and newline, as the format asks of HELP text. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Backslash, newline and double quote, as the format asks of label values. */
export function escapeLabelValue(value: LabelValue): string {
  return typeof value === 'string' ? escapeHelp(value).replace(/"/g, '\\"') : String(value);
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** One metric's block: `# HELP`, `# TYPE`, then a line per sample. */
export function formatMetric(m: MetricSnapshot): string {
  let out = `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}`;
  for (const s of m.values) {
    let labels = '';
    for (const key of Object.keys(s.labels)) labels += `${labels ? ',' : ''}${key}="${escapeLabelValue(s.labels[key]!)}"`;
    out += `\n${s.metricName ?? m.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`;
  }
  return out;
}

export class Registry {
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  private readonly registered = new Map<string, Metric>();
  private readonly collectors: Array<() => void> = [];

  register<M extends Metric>(metric: M): M {
    if (this.registered.has(metric.name)) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.registered.set(metric.name, metric);
    return metric;
  }

  /** Runs before each scrape, for metrics that read one source together (process.memoryUsage(), /proc/self/status). */
  onScrape(collect: () => void): void {
    this.collectors.push(collect);
  }

  snapshots(): MetricSnapshot[] {
    for (const collect of this.collectors) collect();
    return [...this.registered.values()].map((m) => m.snapshot());
  }

  /** The whole exposition: blocks apart by an empty line, a final newline. */
  metrics(): string {
    return `${this.snapshots().map(formatMetric).join('\n\n')}\n`;
  }
}

type Labels<L extends string> = Readonly<Record<L, LabelValue>>;

function checkIncrement(name: string, n: number): void {
  // A counter only goes up; a negative or non-finite step is a bug at the call site.
  if (!(n >= 0) || n === Infinity) throw new RangeError(`${name}: a counter cannot be increased by ${n}`);
}

/**
 * A counter without labels (`inc()`, `inc(n)`) or with fixed label names (`inc({ code }, n)`).
 * Series appear in the order they were first counted; labels in the order of `labelNames`.
 */
export class Counter<L extends string = never> implements Metric {
  readonly type = 'counter';
  private value = 0;
  private readonly series = new Map<string, { labels: Labels<L>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[] = [],
    /** Runs before the counter is read: to fold in counts kept elsewhere in plain numbers. */
    private readonly collect?: () => void,
  ) {}

  inc(n?: number): void;
  inc(labels: Labels<L>, n?: number): void;
  inc(a?: number | Labels<L>, b = 1): void {
    if (typeof a !== 'object') {
      const n = a ?? 1;
      checkIncrement(this.name, n);
      this.value += n;
      return;
    }
    checkIncrement(this.name, b);
    const key = this.labelNames.length === 1 ? String(a[this.labelNames[0]!]) : JSON.stringify(this.labelNames.map((l) => a[l]));
    const s = this.series.get(key);
    if (s) s.value += b;
    else {
      const labels = {} as Record<L, LabelValue>;
      for (const l of this.labelNames) labels[l] = a[l];
      this.series.set(key, { labels, value: b });
    }
  }

  snapshot(): MetricSnapshot {
    this.collect?.();
    const values: Sample[] = this.labelNames.length === 0 ? [{ value: this.value, labels: {} }] : [...this.series.values()].map((s) => ({ value: s.value, labels: s.labels }));
    return { name: this.name, help: this.help, type: this.type, values };
  }

  get(): Promise<MetricSnapshot> {
    return Promise.resolve(this.snapshot());
  }
}

/** A gauge without labels: set() by its owner, or read at scrape time when given `read`. */
export class Gauge implements Metric {
  readonly type = 'gauge';
  private value = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read?: () => number,
  ) {}

  set(value: number): void {
    this.value = value;
  }

  snapshot(): MetricSnapshot {
    if (this.read) this.value = this.read();
    return { name: this.name, help: this.help, type: this.type, values: [{ value: this.value, labels: {} }] };
  }

  get(): Promise<MetricSnapshot> {
    return Promise.resolve(this.snapshot());
  }
}

/** A metric whose samples are computed at scrape time (process figures; labelled gauges). */
export class ComputedMetric implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly compute: () => Sample[],
  ) {}

  snapshot(): MetricSnapshot {
    return { name: this.name, help: this.help, type: this.type, values: this.compute() };
  }
}

/** Per-bucket counts in a typed array; cumulated only when read. */
export class BucketCounts {
  /** Not cumulative; the last slot counts what is above the largest bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  observe(value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The `_bucket` lines (`le` first, as prom-client writes them), `+Inf`, `_sum` and `_count`. */
  samples(name: string, labels: Readonly<Record<string, LabelValue>>, into: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.counts[i]!;
      into.push({ value: cumulative, labels: { le: this.buckets[i]!, ...labels }, metricName: `${name}_bucket` });
    }
    into.push({ value: this.count, labels: { le: '+Inf', ...labels }, metricName: `${name}_bucket` });
    into.push({ value: this.sum, labels, metricName: `${name}_sum` });
    into.push({ value: this.count, labels, metricName: `${name}_count` });
  }
}
