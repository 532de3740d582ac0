/**
 * The metadata listener: node:http and a small router. This is the one place that turns a
 * thrown error into an answer: `{code, message}` JSON with the code's status, logged once.
 * A pod never sees internals: unexpected errors become PODIAM_INTERNAL.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PodiamError, describeError } from '../../core/src/errors.ts';
import { DEFAULT_CONNECTION_LIMITS, guardConnections, socketIp, type ConnectionLimits, type RequestGuard } from './connection-guard.ts';
import { ProxyError } from './errors.ts';
import type { CallerRoles } from './imds/caller.ts';
import { cachedCredentialsReply, credentialsReply } from './imds/credentials.ts';
import { infoReply } from './imds/info.ts';
import { passthroughReply } from './imds/passthrough.ts';
import { plainPath } from './imds/paths.ts';
import { json, text, type Reply } from './imds/reply.ts';
import { roleNameReply } from './imds/role-name.ts';
import { TOKEN_HEADER, TOKEN_TTL_HEADER, parseTokenTtl, type TokenIssuer } from './imds/token.ts';
import type { ImdsUpstream } from './imds/upstream.ts';
import type { Logger } from './log.ts';
import { DEFAULT_LOG_LIMITS, RefusalLogLimiter, type LogLimits, type Suppressed } from './log-limit.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { CredentialCache } from './sts/credential-cache.ts';
import { TOKEN_DOOR_PATH } from '../../core/src/annotations.ts';
import { cachedTokenCredentialsReply, tokenCredentialsReply, type TokenDoorDeps } from './token/door.ts';

export interface ServerDeps {
  requireImdsV2: boolean;
  passthroughPaths: readonly string[];
  credentialsWaitMs: number;
  tokens: TokenIssuer;
  roles: CallerRoles;
  cache: CredentialCache;
  upstream: ImdsUpstream;
  ready: () => boolean;
  logger: Logger;
  metrics: ProxyMetrics;
  /** The token door's own needs; only its listener (createTokenServer) reads them. */
  tokenDoor?: TokenDoorDeps;
}

const CREDS_DIR = '/latest/meta-data/iam/security-credentials';
const IAM_DIR = '/latest/meta-data/iam';

export function callerIp(req: IncomingMessage): string {
  return socketIp(req.socket);
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** rawHeader()'s answer when the header came more than once (a token must come once). */
const MANY = Symbol('many');

/**
 * One request header by its lower-case name, read from rawHeaders: req.headers would build an
 * object of every header on each request, about 1.5 % of a cached answer's CPU (issue 16).
 */
export function rawHeader(req: IncomingMessage, lowerName: string): string | typeof MANY | undefined {
  const raw = req.rawHeaders;
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    if (found !== undefined) return MANY;
    found = raw[i + 1]!;
  }
  return found;
}

interface Routed {
  route: string;
  reply: Reply;
}

const routed = (name: string) => (reply: Reply): Routed => ({ route: name, reply });

/**
 * Synchronous where the answer is known at once (a cached credential, a token, a refusal), so the
 * hot path allocates no promise; a handler that must wait returns a promise. Refusals are thrown.
 */
function route(req: IncomingMessage, deps: ServerDeps): Routed | Promise<Routed> {
  const method = req.method ?? '';
  const path = plainPath(req.url);
  const ip = callerIp(req);

  if (path === '/healthz') return { route: 'healthz', reply: text('ok') };
  if (path === '/readyz') return { route: 'readyz', reply: deps.ready() ? text('ok') : text('not ready', 503) };

  if (path === '/latest/api/token') {
    if (method !== 'PUT') throw new ProxyError('PODIAM_METHOD_NOT_ALLOWED');
    // IMDSv2 refuses token requests that went through a forwarding proxy; so do we.
    if (req.headers['x-forwarded-for'] !== undefined) throw new ProxyError('PODIAM_FORWARDED_REQUEST');
    const ttl = parseTokenTtl(req.headers[TOKEN_TTL_HEADER]);
    return { route: 'token', reply: text(deps.tokens.issue(ip, ttl), 200, { [TOKEN_TTL_HEADER]: String(ttl) }) };
  }
  if (method !== 'GET' && method !== 'HEAD') throw new ProxyError('PODIAM_METHOD_NOT_ALLOWED');

  const token = rawHeader(req, TOKEN_HEADER);
  if (token !== undefined) {
    if (token === MANY || !deps.tokens.verify(token, ip)) throw new ProxyError('PODIAM_IMDS_TOKEN_INVALID');
  } else if (deps.requireImdsV2) {
    throw new ProxyError('PODIAM_IMDS_TOKEN_REQUIRED');
  }

  const p = stripSlash(path);
  if (p === CREDS_DIR) return roleNameReply(ip, deps.roles).then(routed('role-name'));
  if (p.startsWith(`${CREDS_DIR}/`)) {
    const name = p.slice(CREDS_DIR.length + 1);
    if (name.includes('/')) throw new ProxyError('PODIAM_PATH_NOT_ALLOWED', `${path} is not a credentials path`);
    const cached = cachedCredentialsReply(ip, name, deps.roles, deps.cache);
    if (cached) return { route: 'credentials', reply: cached };
    return credentialsReply(ip, name, deps.roles, deps.cache, deps.credentialsWaitMs).then(routed('credentials'));
  }
  if (p === `${IAM_DIR}/info`) return infoReply(ip, deps.roles).then(routed('info'));
  if (p === IAM_DIR) return { route: 'iam', reply: text('info\nsecurity-credentials/') };
  return passthroughReply(path, deps.passthroughPaths, deps.upstream).then(routed('passthrough'));
}

/**
 * The token door's listener (169.254.170.23:80 is sent here): GET /v1/credentials and the probes,
 * nothing else: no metadata path and no passthrough answers on it.
 */
function tokenRoute(req: IncomingMessage, deps: ServerDeps): Routed | Promise<Routed> {
  const path = plainPath(req.url);
  if (path === '/healthz') return { route: 'healthz', reply: text('ok') };
  if (path !== TOKEN_DOOR_PATH) throw new ProxyError('PODIAM_PATH_NOT_ALLOWED', `${path} is not served on the token endpoint; use ${TOKEN_DOOR_PATH}`);
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new ProxyError('PODIAM_METHOD_NOT_ALLOWED');
  const door = deps.tokenDoor;
  if (!door) throw new ProxyError('PODIAM_INTERNAL');
  const ip = callerIp(req);
  const cached = cachedTokenCredentialsReply(req.headers.authorization, ip, door);
  if (cached) return { route: 'token-credentials', reply: cached };
  return tokenCredentialsReply(req.headers.authorization, ip, door).then(routed('token-credentials'));
}

function write(res: ServerResponse, reply: Reply): void {
  // Kept on the reply: a pod's cached credentials are one Reply answered again and again.
  let headers = reply.headerList;
  if (!headers) {
    const body = reply.body;
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    // Headers first, then the body: a client must never see JSON typed as something else.
    headers = ['content-type', reply.contentType, 'content-length', String(length)];
    for (const [k, v] of Object.entries(reply.headers ?? {})) headers.push(k, v);
    reply.headerList = headers;
  }
  res.writeHead(reply.status, headers);
  // A string body goes out in one write together with the headers (a Buffer would need two).
  res.end(reply.body);
}

function errorReply(err: unknown): Reply {
  if (err instanceof PodiamError) return json({ code: err.code, message: err.message }, err.status);
  return json({ code: 'PODIAM_INTERNAL', message: new ProxyError('PODIAM_INTERNAL').message }, 500);
}

function logSuppressed(logger: Logger, summaries: readonly Suppressed[]): void {
  for (const { ip, suppressed } of summaries) logger.warn({ ip, suppressed }, `suppressed ${suppressed} lines from ${ip}`);
}

type RouteFn = (req: IncomingMessage, deps: ServerDeps) => Routed | Promise<Routed>;

/** A routed request's answer, written and timed. */
function answer(deps: ServerDeps, res: ServerResponse, { route: name, reply }: Routed, started: number): void {
  write(res, reply);
  deps.metrics.observeRequest(name, reply.status, (performance.now() - started) / 1000);
}

/** A refused request's answer: the code's status and JSON, counted always, logged within the limiter's budget. */
function refuse(deps: ServerDeps, logLimiter: RefusalLogLimiter, req: IncomingMessage, res: ServerResponse, err: unknown, started: number): void {
  const reply = errorReply(err);
  write(res, reply);
  const { code, message } = describeError(err);
  deps.metrics.observeRequest('error', reply.status, (performance.now() - started) / 1000);
  deps.metrics.denials.inc({ code: err instanceof PodiamError ? String(err.code) : 'PODIAM_INTERNAL' });
  const ip = callerIp(req);
  // Metrics above count every refusal; the log gets a few lines per source IP and window.
  const verdict = logLimiter.admit(ip);
  logSuppressed(deps.logger, verdict.summaries);
  if (!verdict.log) return;
  const fields = { ip, method: req.method, path: req.url?.slice(0, 200), status: reply.status, code };
  // The cause, when there is one: a PodiamError without one has nothing more to say.
  const cause = err instanceof PodiamError ? (err.cause === undefined ? undefined : describeError(err.cause)) : message;
  if (reply.status >= 500) deps.logger.error(cause === undefined ? fields : { ...fields, err: cause }, message);
  else deps.logger.info(fields, message);
}

/**
 * The request listener. A request answered at once (a cached credential) allocates no closure
 * and no promise here; only one that must wait gets its two callbacks.
 */
export function handler(deps: ServerDeps, logLimiter: RefusalLogLimiter, routeFn: RouteFn, guard: RequestGuard): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // SECURITY: the pipelining cap; a request it refuses (its socket is destroyed) is never routed.
    if (guard(req, res)) return;
    const started = performance.now();
    // No request here has a body worth reading; drain it so the socket can be reused.
    req.resume();
    let result: Routed | Promise<Routed>;
    try {
      result = routeFn(req, deps);
    } catch (err) {
      return refuse(deps, logLimiter, req, res, err, started);
    }
    if (result instanceof Promise) {
      result.then(
        (routed) => answer(deps, res, routed, started),
        (err: unknown) => refuse(deps, logLimiter, req, res, err, started),
      );
    } else answer(deps, res, result, started);
  };
}

export interface ListenerLimits {
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxHeaderSize?: number;
  connections?: Partial<ConnectionLimits>;
  /** Log lines of refused requests per source IP (proxy/src/log-limit.ts). */
  logLimits?: Partial<LogLimits>;
}

export function createImdsServer(deps: ServerDeps, limits: ListenerLimits = {}, routeFn: RouteFn = route): Server {
  const logLimits = { ...DEFAULT_LOG_LIMITS, ...limits.logLimits };
  const logLimiter = new RefusalLogLimiter(logLimits);
  const server = createServer({
    maxHeaderSize: limits.maxHeaderSize ?? 8192,
    // Slow clients: headers within 2 s, the whole request within 5 s, checked every 250 ms.
    headersTimeout: limits.headersTimeoutMs ?? 2000,
    requestTimeout: limits.requestTimeoutMs ?? 5000,
    connectionsCheckingInterval: 250,
    keepAliveTimeout: 5000,
  });
  // Summaries for IPs that went quiet: their window rolls without another refusal to report it.
  const sweeper = setInterval(() => logSuppressed(deps.logger, logLimiter.sweep()), logLimits.windowMs);
  sweeper.unref();
  server.once('close', () => clearInterval(sweeper));
  const guard = guardConnections(server, { ...DEFAULT_CONNECTION_LIMITS, ...limits.connections }, {
    refused: (reason, ip) => {
      deps.metrics.connectionsRefused.inc({ reason });
      deps.logger.debug({ ip, reason }, 'connection refused by the connection guard');
    },
    openChanged: (open) => deps.metrics.openConnections.set(open),
  });
  // The only request listener: the guard's pipelining check, then the router.
  server.on('request', handler(deps, logLimiter, routeFn, guard));
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ code: 'PODIAM_BAD_REQUEST', message: 'Malformed or oversized HTTP request.' });
    socket.end(`HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}

/** The token door's listener: the same limits, guard and error answers as the metadata one. */
export function createTokenServer(deps: ServerDeps & { tokenDoor: TokenDoorDeps }, limits: ListenerLimits = {}): Server {
  return createImdsServer(deps, limits, tokenRoute);
}

export function createMetricsServer(metrics: ProxyMetrics, ready: () => boolean): Server {
  return createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') {
      let body: string;
      try {
        body = metrics.registry.metrics();
      } catch {
        write(res, text('metrics unavailable', 500));
        return;
      }
      write(res, { status: 200, contentType: metrics.registry.contentType, body });
    } else if (path === '/healthz') write(res, text('ok'));
    else if (path === '/readyz') write(res, ready() ? text('ok') : text('not ready', 503));
    else write(res, text('not found', 404));
  });
}
