/**
 * The proxy's Kubernetes API client: node:https, one keep-alive Agent, and only what the proxy
 * calls (GET JSON, list pages, watch, POST JSON). It replaces @kubernetes/client-node in the
 * proxy (issue 16): that library brought ~1.1 MB of bundle and its transport stack (node-fetch,
 * ws, socks, js-yaml, jsonpath-plus, oauth4webapi, …) into every node's resident memory for four
 * kinds of request.
 *
 * Where the API server is and how to authenticate is a KubeTarget (kube-target.ts). The pure parts
 * here (URLs, the watch stream's line splitter) are exported for unit tests; KubeClient does the I/O.
 */
// node:fs, not node:fs/promises: the latter loads readline and fs watchers, about 0.8 MB resident.
import { readFile as readFileCallback, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { ProxyError } from '../errors.ts';
import { inClusterTarget, kubeconfigFileTarget, type KubeSecretSource, type KubeTarget } from './kube-target.ts';

const readFile = promisify(readFileCallback);

export type { KubeSecretSource, KubeTarget } from './kube-target.ts';

/** server + path (a server's path prefix is kept, as kubectl does) + query; undefined values left out. */
export function kubeUrl(server: string, apiPath: string, query: Record<string, string | number | boolean | undefined> = {}): URL {
  const url = new URL(server.replace(/\/+$/, '') + apiPath);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/**
 * Splits a watch stream into lines. Chunks end anywhere: inside a line, or inside a multi-byte
 * UTF-8 character (the decoder keeps the partial bytes). A line longer than maxLineBytes throws:
 * a stream that never sends a newline must not grow the buffer without bound.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  constructor(private readonly maxLineChars = 16 * 1024 * 1024) {}

  push(chunk: Buffer): string[] {
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > this.maxLineChars) throw new KubeApiError('KUBE_WATCH_LINE_TOO_LONG', `a watch event is longer than ${this.maxLineChars} characters`);
    return lines.filter((l) => l.trim() !== '');
  }

  /** What is left when the stream ends (a last line without its newline). */
  end(): string[] {
    const rest = (this.partial + this.decoder.end()).trim();
    this.partial = '';
    return rest === '' ? [] : [rest];
  }
}

export type KubeApiErrorCode =
  /** The API server answered with a status other than the one expected (statusCode says which). */
  | 'KUBE_API_STATUS'
  /** No answer within the request's time. */
  | 'KUBE_API_TIMEOUT'
  /** The answer was larger than the request allows. */
  | 'KUBE_API_TOO_LARGE'
  /** The answer (or a watch event) was not JSON. */
  | 'KUBE_API_BAD_JSON'
  /** The connection failed or closed before the answer was complete (cause says why). */
  | 'KUBE_API_CONNECTION'
  | 'KUBE_WATCH_LINE_TOO_LONG';

/** A failed API call; only logged (describeError), never sent to a pod. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly code: KubeApiErrorCode,
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One page of a list: the API server's own shape (metadata.continue, not client-node's _continue). */
export interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface ListQuery {
  limit?: number;
  continue?: string;
  fieldSelector?: string;
  labelSelector?: string;
}

/** Called for each watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (obj is then a Status). */
export type WatchEventFn = (type: string, obj: unknown) => void;

/** Called once when a watch ends: err is null when the server closed a healthy watch or it was aborted. */
export type WatchDoneFn = (err: unknown) => void;

export interface KubeClientOptions {
  /** How long a token file's contents are used before it is read again (client-node: 60 s). */
  tokenRefreshMs?: number;
  now?: () => number;
}

interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  accept?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Statuses that count as success (default: 200). */
  ok?: number[];
}

const STATUS_BODY_BYTES = 64 * 1024;

function statusMessage(status: number, body: Buffer): string {
  try {
    const s = JSON.parse(body.toString('utf8')) as { message?: unknown };
    if (typeof s.message === 'string') return s.message.slice(0, 500);
  } catch {
    // Not a Status: the status code alone says enough.
  }
  return `HTTP ${status}`;
}

export class KubeClient {
  private readonly agent: HttpsAgent | HttpAgent;
  private readonly request: typeof httpsRequest;
  private readonly tokenRefreshMs: number;
  private readonly now: () => number;
  private token: { value: string; readAtMs: number } | undefined;
  private tokenRead: Promise<string> | undefined;

  /** Reads the kubeconfig file's current context; `server` overrides its cluster's address (tests). */
  static async fromKubeconfigFile(file: string, overrides: { server?: string; context?: string } = {}): Promise<KubeClient> {
    const target = await kubeconfigFileTarget(file, overrides.context);
    return new KubeClient(overrides.server ? { ...target, server: overrides.server } : target);
  }

  static inCluster(env: NodeJS.ProcessEnv = process.env): KubeClient {
    return new KubeClient(inClusterTarget(env));
  }

  constructor(
    readonly target: KubeTarget,
    options: KubeClientOptions = {},
  ) {
    this.tokenRefreshMs = options.tokenRefreshMs ?? 60_000;
    this.now = options.now ?? Date.now;
    const url = new URL(target.server);
    const read = (s: KubeSecretSource | undefined, what: string): Buffer | undefined => {
      if (!s) return undefined;
      if ('data' in s) return s.data;
      try {
        return readFileSync(s.file);
      } catch (err) {
        throw new ProxyError('PODIAM_CONFIG_INVALID', `the Kubernetes ${what} file ${s.file} cannot be read`, { cause: err });
      }
    };
    if (url.protocol === 'https:') {
      const ca = read(target.ca, 'CA');
      const cert = read(target.cert, 'client certificate');
      const key = read(target.key, 'client key');
      this.agent = new HttpsAgent({
        keepAlive: true,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(target.tlsServerName ? { servername: target.tlsServerName } : {}),
        // Security: only when the kubeconfig says insecure-skip-tls-verify: true (a test
        // cluster); the in-cluster target always verifies against the mounted CA.
        rejectUnauthorized: target.insecureSkipTlsVerify !== true,
      });
      this.request = httpsRequest;
    } else if (url.protocol === 'http:') {
      this.agent = new HttpAgent({ keepAlive: true });
      this.request = httpRequest as typeof httpsRequest;
    } else {
      throw new ProxyError('PODIAM_CONFIG_INVALID', `the Kubernetes API server ${target.server} is not an http(s) URL`);
    }
  }

  get server(): string {
    return this.target.server;
  }

  /** GET path as JSON (bounded in size and time). */
  getJson<T = unknown>(apiPath: string, options: { query?: RequestSpec['query']; timeoutMs?: number; accept?: string; maxBytes?: number } = {}): Promise<T> {
    return this.json<T>({ method: 'GET', path: apiPath, query: options.query, timeoutMs: options.timeoutMs ?? 30_000, maxBytes: options.maxBytes ?? 64 * 1024 * 1024, accept: options.accept });
  }

  /** One page of a collection. */
  list<T>(apiPath: string, query: ListQuery, timeoutMs = 60_000): Promise<ListPage<T>> {
    return this.getJson<ListPage<T>>(apiPath, { query: { ...query }, timeoutMs });
  }

  /** POST body as JSON; resolves with the created object. */
  postJson<T = unknown>(apiPath: string, body: unknown, timeoutMs = 30_000): Promise<T> {
    return this.json<T>({ method: 'POST', path: apiPath, body, timeoutMs, maxBytes: 4 * 1024 * 1024, ok: [200, 201, 202] });
  }

  /**
   * Watches a collection: `watch=true` is added to query. Resolves once the server has answered
   * (a handle whose abort() ends the watch); onDone is called exactly once, with a KubeApiError
   * carrying statusCode when the server refuses the watch (e.g. 410 Gone, 403), with an error when
   * the connection breaks, and with null when the server ends the watch or abort() is called.
   */
  async watch(apiPath: string, query: Record<string, string | undefined>, onEvent: WatchEventFn, onDone: WatchDoneFn): Promise<{ abort(): void }> {
    let done = false;
    let req: ClientRequest | undefined;
    const finish = (err: unknown): void => {
      if (done) return;
      done = true;
      req?.destroy();
      onDone(err);
    };
    const handle = { abort: () => finish(null) };
    let headers: Record<string, string>;
    try {
      headers = await this.headers('application/json');
    } catch (err) {
      finish(err);
      return handle;
    }
    if (done) return handle;
    const url = kubeUrl(this.target.server, apiPath, { ...query, watch: 'true' });
    return new Promise((resolve) => {
      const r = this.request(url, { method: 'GET', agent: this.agent, headers }, (res) => {
        if (res.statusCode !== 200) {
          const status = res.statusCode ?? 0;
          void readBody(res, STATUS_BODY_BYTES, true).then(
            (body) => finish(new KubeApiError('KUBE_API_STATUS', `watch ${apiPath}: ${statusMessage(status, body)}`, status)),
            () => finish(new KubeApiError('KUBE_API_STATUS', `watch ${apiPath}: HTTP ${status}`, status)),
          );
          resolve(handle);
          return;
        }
        // A watch may be quiet for minutes: TCP keepalive finds a peer that vanished (as client-node).
        res.socket.setKeepAlive(true, 30_000);
        const lines = new LineSplitter();
        const deliver = (line: string): void => {
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch (err) {
            // A line lost is an event lost (a deletion the index never hears of): end the watch,
            // so the reflector lists again, rather than skip it as client-node did.
            throw new KubeApiError('KUBE_API_BAD_JSON', `watch ${apiPath}: an event is not JSON`, undefined, { cause: err });
          }
          if (typeof event.type === 'string') onEvent(event.type, event.object);
        };
        res.on('data', (chunk: Buffer) => {
          if (done) return;
          try {
            for (const line of lines.push(chunk)) {
              deliver(line);
              if (done) return;
            }
          } catch (err) {
            finish(err);
          }
        });
        res.on('end', () => {
          try {
            for (const line of lines.end()) if (!done) deliver(line);
            finish(null);
          } catch (err) {
            finish(err);
          }
        });
        res.on('error', (err) => finish(new KubeApiError('KUBE_API_CONNECTION', `watch ${apiPath}: ${err.message}`, undefined, { cause: err })));
        res.on('close', () => {
          if (!res.complete) finish(new KubeApiError('KUBE_API_CONNECTION', `watch ${apiPath}: the connection closed mid-stream`));
        });
        resolve(handle);
      });
      req = r;
      r.on('error', (err) => {
        finish(new KubeApiError('KUBE_API_CONNECTION', `watch ${apiPath}: ${err.message}`, undefined, { cause: err }));
        resolve(handle);
      });
      r.end();
    });
  }

  /** Ends idle keep-alive connections (open watches are ended by their handles). */
  close(): void {
    this.agent.destroy();
  }

  private async json<T>(spec: RequestSpec): Promise<T> {
    const body = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers = await this.headers(spec.accept ?? 'application/json');
    if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(body.length) });
    const url = kubeUrl(this.target.server, spec.path, spec.query);
    const what = `${spec.method} ${spec.path}`;
    const { status, data } = await new Promise<{ status: number; data: Buffer }>((resolve, reject) => {
      const timeout = new KubeApiError('KUBE_API_TIMEOUT', `${what}: no complete answer within ${spec.timeoutMs} ms`);
      let timedOut = false;
      // Whichever side reports the destroyed request (the request, or a response already begun), it was the time.
      const fail = (err: unknown): void => reject(timedOut ? timeout : err);
      const req = this.request(url, { method: spec.method, agent: this.agent, headers }, (res) => {
        const status = res.statusCode ?? 0;
        const ok = (spec.ok ?? [200]).includes(status);
        readBody(res, ok ? spec.maxBytes : STATUS_BODY_BYTES, !ok).then((data) => resolve({ status, data }), fail);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(timeout);
      }, spec.timeoutMs);
      timer.unref();
      req.on('close', () => clearTimeout(timer));
      req.on('error', (err) => fail(err instanceof KubeApiError ? err : new KubeApiError('KUBE_API_CONNECTION', `${what}: ${err.message}`, undefined, { cause: err })));
      req.end(body);
    });
    if (!(spec.ok ?? [200]).includes(status)) throw new KubeApiError('KUBE_API_STATUS', `${what}: ${statusMessage(status, data)}`, status);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch (err) {
      throw new KubeApiError('KUBE_API_BAD_JSON', `${what}: the answer is not JSON`, status, { cause: err });
    }
  }

  private async headers(accept: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = { accept, 'user-agent': 'podiam-proxy' };
    const t = this.target;
    const bearer = t.token ?? (t.tokenFile ? await this.fileToken(t.tokenFile) : undefined);
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    else if (t.username !== undefined && t.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${t.username}:${t.password}`).toString('base64')}`;
    return headers;
  }

  /**
   * The token file's contents, read again once tokenRefreshMs old: the kubelet rewrites a bound
   * service-account token well before it expires, and an old copy stops working. A failed read
   * keeps the copy it has (the kubelet swaps the file by symlink; a read may race it).
   */
  private fileToken(file: string): Promise<string> {
    const cached = this.token;
    if (cached && this.now() - cached.readAtMs < this.tokenRefreshMs) return Promise.resolve(cached.value);
    this.tokenRead ??= readFile(file, 'utf8')
      .then(
        (text) => {
          this.token = { value: text.trim(), readAtMs: this.now() };
          return this.token.value;
        },
        (err: unknown) => {
          if (cached) return cached.value;
          throw new ProxyError('PODIAM_CONFIG_INVALID', `the Kubernetes token file ${file} cannot be read`, { cause: err });
        },
      )
      .finally(() => {
        this.tokenRead = undefined;
      });
    return this.tokenRead;
  }
}

/** The response body, at most maxBytes (more is an error, or cut off when `truncate`). */
function readBody(res: IncomingMessage, maxBytes: number, truncate: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size >= maxBytes) return;
      size += c.length;
      if (size > maxBytes) {
        if (truncate) return chunks.push(c.subarray(0, c.length - (size - maxBytes)));
        res.destroy(new KubeApiError('KUBE_API_TOO_LARGE', `the answer is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err) => reject(err instanceof KubeApiError ? err : new KubeApiError('KUBE_API_CONNECTION', err.message, undefined, { cause: err })));
    res.on('close', () => {
      if (!res.complete) reject(new KubeApiError('KUBE_API_CONNECTION', 'the connection closed before the answer was complete'));
    });
  });
}
