/** What a handler answers; server.ts writes it (status, then headers, then body). */
export interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  /** The headers as node:http takes them, filled in by the server on first write. */
  headerList?: string[];
}

export function text(body: string, status = 200, headers?: Record<string, string>): Reply {
  return { status, contentType: 'text/plain', body, ...(headers ? { headers } : {}) };
}

export function json(value: unknown, status = 200): Reply {
  return { status, contentType: 'application/json', body: JSON.stringify(value, null, 2) };
}

/** IMDS's time format: ISO 8601 to the second, UTC, 'Z'. */
export function imdsTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
