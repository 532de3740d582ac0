/**
 * The process and Node.js metrics that prom-client's collectDefaultMetrics() exported, under the
 * same names, help texts and types, computed at scrape time from node built-ins and, on Linux,
 * /proc/self (as prom-client reads it).
 *
 * Not kept: nodejs_active_handles and nodejs_active_requests by type (they group internal objects
 * by class name through process._getActiveHandles(); nodejs_active_resources groups the same by
 * type through the public API) and nodejs_heap_space_size_{total,used,available}_bytes (27 series
 * of V8 detail per node that no dashboard or alert reads; the heap totals stay).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { ComputedMetric, type MetricType, type Registry, type Sample } from './prometheus.ts';

const START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());
const VERSION = process.version;
const [MAJOR, MINOR, PATCH] = VERSION.slice(1).split('.').map(Number);

/** VmRSS, VmSize and VmData of /proc/self/status, in bytes; undefined off Linux or when unreadable. */
export function readProcStatus(): { rss: number; virtual: number; data: number } | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // /proc is not disk I/O: the kernel answers from its own structures and never blocks.
    const text = readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(text)?.[1]) * 1024;
    return { rss: kb('VmRSS'), virtual: kb('VmSize'), data: kb('VmData') };
  } catch {
    return undefined;
  }
}

/** Open descriptors, less the one readdirSync used; undefined off Linux. */
export function openFds(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

let maxFdsRead: number | undefined | null = null;
/** The soft limit on open files from /proc/self/limits, read once; undefined off Linux. */
export function maxFds(): number | undefined {
  if (maxFdsRead !== null) return maxFdsRead;
  maxFdsRead = undefined;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const n = Number(line?.split(/ {2,}/)[1]);
    if (Number.isFinite(n)) maxFdsRead = n;
  } catch {
    // Not Linux: the metric is left out, as prom-client leaves it out.
  }
  return maxFdsRead;
}

/**
 * One event-loop delay monitor per process, however many registries read it (tests run several
 * proxies in one process); started with the first registry that asks.
 *
 * No GC observer, so no nodejs_gc_duration_seconds (prom-client has one): node builds every GC
 * entry with two deprecate() wrappers for its deprecated kind/flags accessors, and the observer
 * took 1.9 % of the busy CPU of a proxy answering cached credentials at saturation (profile,
 * issue 16; docs/benchmarks.md). Heap sizes and the event-loop lag stay.
 */
let loopDelay: IntervalHistogram | undefined;
function eventLoopDelay(): IntervalHistogram {
  if (loopDelay) return loopDelay;
  loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  return loopDelay;
}

/** Registers the process metrics on `registry`, each name starting with `prefix`. */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  const loop = eventLoopDelay();
  const one = (value: number | undefined): Sample[] => (value === undefined || Number.isNaN(value) ? [] : [{ value, labels: {} }]);
  const add = (name: string, help: string, type: MetricType, compute: () => Sample[]): void => {
    registry.register(new ComputedMetric(prefix + name, help, type, compute));
  };

  // Figures that come from one read are read once per scrape.
  let cpu = process.cpuUsage();
  let status = readProcStatus();
  let memory = process.memoryUsage();
  let resources: string[] = [];
  let lag = 0;
  const loopNow = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
  registry.onScrape(() => {
    cpu = process.cpuUsage();
    status = readProcStatus();
    memory = process.memoryUsage();
    resources = process.getActiveResourcesInfo();
    // As prom-client: the lag a scrape shows is the one measured after the previous scrape.
    const start = process.hrtime.bigint();
    setImmediate(() => (lag = Number(process.hrtime.bigint() - start) / 1e9));
    Object.assign(loopNow, {
      min: loop.min / 1e9,
      max: loop.max / 1e9,
      mean: loop.mean / 1e9,
      stddev: loop.stddev / 1e9,
      p50: loop.percentile(50) / 1e9,
      p90: loop.percentile(90) / 1e9,
      p99: loop.percentile(99) / 1e9,
    });
    loop.reset();
  });

  // Since the process started (prom-client counted from its own start, a few milliseconds later).
  add('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', 'counter', () => one(cpu.user / 1e6));
  add('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', 'counter', () => one(cpu.system / 1e6));
  add('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', () => one((cpu.user + cpu.system) / 1e6));
  add('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', 'gauge', () => one(START_SECONDS));
  add('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => one(status?.rss ?? memory.rss));
  if (process.platform === 'linux') {
    add('process_virtual_memory_bytes', 'Virtual memory size in bytes.', 'gauge', () => one(status?.virtual));
    add('process_heap_bytes', 'Process heap size in bytes.', 'gauge', () => one(status?.data));
    add('process_open_fds', 'Number of open file descriptors.', 'gauge', () => one(openFds()));
  }
  if (maxFds() !== undefined) add('process_max_fds', 'Maximum number of open file descriptors.', 'gauge', () => one(maxFds()));

  add('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', 'gauge', () => one(lag));
  add('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', 'gauge', () => one(loopNow.min));
  add('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'gauge', () => one(loopNow.max));
  add('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', 'gauge', () => one(loopNow.mean));
  add('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', 'gauge', () => one(loopNow.stddev));
  add('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', 'gauge', () => one(loopNow.p50));
  add('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', 'gauge', () => one(loopNow.p90));
  add('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'gauge', () => one(loopNow.p99));

  add('nodejs_active_resources', 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.', 'gauge', () => {
    const byType = new Map<string, number>();
    for (const type of resources) byType.set(type, (byType.get(type) ?? 0) + 1);
    return [...byType].map(([type, value]) => ({ value, labels: { type } }));
  });
  add('nodejs_active_resources_total', 'Total number of active resources.', 'gauge', () => one(resources.length));
  const internal = process as unknown as { _getActiveHandles?: () => unknown[]; _getActiveRequests?: () => unknown[] };
  if (typeof internal._getActiveHandles === 'function') {
    add('nodejs_active_handles_total', 'Total number of active handles.', 'gauge', () => one(internal._getActiveHandles!().length));
  }
  if (typeof internal._getActiveRequests === 'function') {
    add('nodejs_active_requests_total', 'Total number of active requests.', 'gauge', () => one(internal._getActiveRequests!().length));
  }

  add('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', 'gauge', () => one(memory.heapTotal));
  add('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', 'gauge', () => one(memory.heapUsed));
  add('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', 'gauge', () => one(memory.external));
  add('nodejs_version_info', 'Node.js version info.', 'gauge', () => [{ value: 1, labels: { version: VERSION, major: MAJOR!, minor: MINOR!, patch: PATCH! } }]);
}
