/**
 * Serves the admission Lambda handler over HTTPS on loopback, translating each request into
 * the Function URL event shape (payload format 2.0) and the result back. For tests and the
 * local demo only: a real kube-apiserver can call it as its webhook (it needs TLS).
 *
 *   const server = await startLocalAdmissionServer({ key, cert, env: { PODIAM_WEBHOOK_SECRET, … } });
 *
 * PODIAM_WEBHOOK_SECRET is the local server's own input, for building the URL: the handler gets
 * only its SHA-256 (PODIAM_WEBHOOK_SECRET_SHA256), as the deployed function does.
 *   server.url        // https://127.0.0.1:<port>/admit/<secret> — the validating webhook's clientConfig.url
 *   server.mutateUrl  // https://127.0.0.1:<port>/mutate/<secret> — the mutating (token identity) webhook's
 *   await server.stop();
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { webhookSecretSha256 } from '../lib/config.ts';
import { ADMIT_PATH_PREFIX, MUTATE_PATH_PREFIX, createAdmissionHandlerFromEnv, type AdmissionHandler } from './handler.ts';

export interface LocalAdmissionServerOptions {
  /** PEM private key and certificate (the certificate's SAN must cover 127.0.0.1). */
  key: string | Buffer;
  cert: string | Buffer;
  /** 0 or unset: a free port. Always bound on 127.0.0.1. */
  port?: number;
  /** Merged over process.env for the handler's configuration (PODIAM_*, AWS_* credentials). */
  env?: Record<string, string | undefined>;
  /** Use this handler instead of one built from the environment. */
  handler?: AdmissionHandler;
  log?: Logger;
}

export interface LocalAdmissionServer {
  /** The full validating webhook URL, secret included. */
  url: string;
  /** The mutating (token identity) webhook URL: the same secret under /mutate/. */
  mutateUrl: string;
  /** https://127.0.0.1:<port> */
  origin: string;
  port: number;
  stop(): Promise<void>;
}

/** Lambda Function URLs refuse bodies over 6 MB; the local server does the same. */
const MAX_BODY = 6 * 1024 * 1024;
/**
 * A body over MAX_BODY is read on and dropped up to this much, so the client has sent it all and
 * reads the 413: closing a socket with unread data makes the kernel answer with a reset instead.
 * Beyond it the connection is cut, so a sender that never stops costs bounded work.
 */
const DRAIN_LIMIT = 4 * MAX_BODY;

type ReadBody = { kind: 'body'; body: Buffer } | { kind: 'too-large'; drained: boolean };

function readBody(req: IncomingMessage): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: ReadBody) => {
      if (done) return;
      done = true;
      resolve(result);
    };
    if (Number(req.headers['content-length']) > DRAIN_LIMIT) {
      finish({ kind: 'too-large', drained: false });
      return;
    }
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DRAIN_LIMIT) finish({ kind: 'too-large', drained: false });
      else if (size > MAX_BODY) chunks.length = 0;
      else chunks.push(c);
    });
    req.on('end', () => finish(size > MAX_BODY ? { kind: 'too-large', drained: true } : { kind: 'body', body: Buffer.concat(chunks) }));
    req.on('error', reject);
  });
}

export function toFunctionUrlEvent(req: IncomingMessage, body: Buffer, now = new Date()): LambdaFunctionURLEvent {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const contentType = headers['content-type'] ?? '';
  // Function URLs base64-encode bodies that are not text.
  const text = /json|text|xml|yaml/.test(contentType) || contentType === '';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: { method: req.method ?? 'GET', path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: `local-${now.getTime()}-${Math.random().toString(16).slice(2, 10)}`,
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
  };
}

export async function startLocalAdmissionServer(options: LocalAdmissionServerOptions): Promise<LocalAdmissionServer> {
  const env = { ...process.env, ...(options.env ?? {}) };
  const log = options.log ?? jsonLogger;
  const secret = env.PODIAM_WEBHOOK_SECRET ?? '';
  const handlerEnv: Record<string, string | undefined> = { ...env, PODIAM_WEBHOOK_SECRET: undefined };
  if (secret) handlerEnv.PODIAM_WEBHOOK_SECRET_SHA256 = webhookSecretSha256(secret);
  const handler = options.handler ?? createAdmissionHandlerFromEnv(handlerEnv, log);
  const server: Server = createServer({ key: options.key, cert: options.cert }, (req, res) => {
    readBody(req)
      .then(async (read) => {
        if (read.kind === 'too-large') {
          // As the Function URL does, a 413 before the handler sees anything; JSON like every other refusal.
          res.writeHead(413, { 'content-type': 'application/json', ...(read.drained ? {} : { connection: 'close' }) });
          res.end(JSON.stringify({ code: 'PODIAM_REQUEST_TOO_LARGE', message: `the body is over ${MAX_BODY} bytes (the Function URL's limit); send an AdmissionReview.` }), () => {
            if (!read.drained) req.destroy();
          });
          return;
        }
        const result = await handler(toFunctionUrlEvent(req, read.body));
        const headers = typeof result === 'object' && result.headers ? result.headers : {};
        res.writeHead(typeof result === 'object' ? (result.statusCode ?? 200) : 200, headers as Record<string, string>);
        res.end(typeof result === 'object' ? (result.body ?? '') : String(result));
      })
      .catch((err: unknown) => {
        // As Lambda does for a handler that throws: a 502 without internals.
        log('error', 'local admission handler failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal Server Error' }));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `https://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    url: `${origin}${ADMIT_PATH_PREFIX}${secret}`,
    mutateUrl: `${origin}${MUTATE_PATH_PREFIX}${secret}`,
    origin,
    port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
