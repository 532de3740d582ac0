/**
 * CloudWatch metrics as embedded metric format (EMF) lines: one JSON object per line, written
 * straight to stdout. Lambda's JSON log format wraps console output in its own record, which
 * CloudWatch would not read as EMF, so these bypass console. No extra permission is needed.
 */
export const METRIC_NAMESPACE = 'podiam';

export type MetricSink = (name: string, value: number, dimensions: Record<string, string>, fields?: Record<string, unknown>) => void;

export function emfLine(name: string, value: number, dimensions: Record<string, string>, fields: Record<string, unknown> = {}, now = Date.now()): string {
  return JSON.stringify({
    ...fields,
    ...dimensions,
    [name]: value,
    _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: [{ Name: name, Unit: 'Count' }] }] },
  });
}

export const emfMetrics: MetricSink = (name, value, dimensions, fields) => {
  process.stdout.write(`${emfLine(name, value, dimensions, fields)}\n`);
};
