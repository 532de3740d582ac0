/**
 * JSON log lines, one per event, in pino's shape ({"level":30,"time":"…","component":"podiam-proxy",
 * …fields, "msg":"…"}) so log pipelines that parsed the proxy's logs before keep working. Written
 * here rather than with pino: pino and what it loads (worker_threads, assert, sonic-boom) kept
 * about 2–3 MB more resident on every node (issue 16; docs/benchmarks.md), and the proxy logs
 * little (refusals are rate-limited per source IP, proxy/src/log-limit.ts).
 *
 * Credentials and tokens never reach a log line: any field with one of REDACTED_KEYS as its name is
 * replaced by "[redacted]", at any depth.
 */

export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

type LogFn = (fieldsOrMessage: object | string, message?: string) => void;

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/** Field names whose values are secrets: AWS credentials, IMDSv2 and service-account tokens, auth headers. */
export const REDACTED_KEYS: ReadonlySet<string> = new Set([
  'token',
  'Token',
  'credentials',
  'SecretAccessKey',
  'secretAccessKey',
  'sessionToken',
  'SessionToken',
  'accessKeyId',
  'AccessKeyId',
  'x-aws-ec2-metadata-token',
  'authorization',
  'Authorization',
]);

const CENSOR = '[redacted]';

function errorFields(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code === undefined ? {} : { code }) };
}

/** JSON of the fields with secrets censored, Errors as {type, message, code} and cycles cut. */
function serialize(fields: object): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(fields, (key, value: unknown) => {
    // SECURITY: the one place a log line is built; a secret-named field never gets its value out.
    if (key !== '' && REDACTED_KEYS.has(key)) return CENSOR;
    if (typeof value === 'bigint') return value.toString();
    if (value !== null && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
      if (value instanceof Error) return errorFields(value);
    }
    return value;
  });
}

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout, component = 'podiam-proxy'): Logger {
  const threshold = level in LOG_LEVELS ? LOG_LEVELS[level as LogLevel] : Infinity; // 'silent'
  const head = `,"component":${JSON.stringify(component)}`;
  const at = (name: LogLevel): LogFn => {
    const value = LOG_LEVELS[name];
    if (value < threshold) return () => undefined;
    return (fieldsOrMessage, message) => {
      const fields = typeof fieldsOrMessage === 'string' ? {} : fieldsOrMessage;
      const msg = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : message;
      const body = serialize(msg === undefined ? fields : { ...fields, msg });
      // body is "{…}"; the fixed fields go first, as pino writes them.
      const rest = body.length > 2 ? `,${body.slice(1)}` : '}';
      destination.write(`{"level":${value},"time":"${new Date().toISOString()}"${head}${rest}\n`);
    };
  };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}
