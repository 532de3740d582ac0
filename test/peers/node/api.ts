// The few API server calls the node helper makes itself (no client library: it must work
// before any client config exists, and in teardown when the API may be half gone).
import { request } from 'node:https';
import type { Kube } from '../kube.ts';

export interface ApiAnswer {
  status: number;
  json: unknown;
}

/** One request as the cluster admin (static token); bounded to 10 s. */
export function apiRequest(kube: Kube, method: string, apiPath: string, body?: unknown): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(new URL(apiPath, kube.server), {
      method,
      ca: kube.caPem,
      timeout: 10_000,
      headers: { authorization: `Bearer ${kube.token}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: no answer within 10 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => {
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {
          // Not JSON (e.g. a log stream): keep the text.
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.end(payload);
  });
}

/** Calls `probe` every `everyMs` until it returns a value, or throws after `timeoutMs` naming `what`. */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  // Bounded by the deadline, one probe per everyMs at most.
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err: unknown) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}
