/**
 * One bounded HTTP exchange for the proxy's small upstream clients (the node's IMDS, STS): until
 * the TCP connection is up at most connectTimeoutMs, then until the whole answer is in at most
 * answerTimeoutMs, and no more than maxBytes of body. Each caller says which error a timeout or an
 * oversized answer is; a network failure rejects with node's own error.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';

export interface ExchangeLimits {
  connectTimeoutMs: number;
  answerTimeoutMs: number;
  maxBytes: number;
}

export interface ExchangeErrors {
  /** `phase` is 'connect' (no connection within connectTimeoutMs) or 'answer'. */
  timeout(phase: 'connect' | 'answer', ms: number): Error;
  tooLarge(maxBytes: number): Error;
}

export interface ExchangeAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function boundedExchange(
  target: URL,
  agent: HttpAgent | HttpsAgent,
  request: { method: string; path: string; headers: OutgoingHttpHeaders; body?: string },
  limits: ExchangeLimits,
  errors: ExchangeErrors,
): Promise<ExchangeAnswer> {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (phase: 'connect' | 'answer', ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => req.destroy(errors.timeout(phase, ms)), ms);
    };
    const req = send({ protocol: target.protocol, hostname: target.hostname, port: target.port, method: request.method, path: request.path, headers: request.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) req.destroy(errors.tooLarge(limits.maxBytes));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('socket', (socket) => {
      // A reused keep-alive socket is connected already: only the answer's timeout applies.
      if (socket.connecting) {
        arm('connect', limits.connectTimeoutMs);
        socket.once('connect', () => arm('answer', limits.answerTimeoutMs));
      } else arm('answer', limits.answerTimeoutMs);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(request.body);
  });
}
