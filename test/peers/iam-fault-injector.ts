// A fault injector in front of the real moto peer, not a fake: a small HTTP forwarder on loopback
// that answers chosen IAM requests itself (IAM's real `Throttling` error: status 400 and the
// query-protocol XML body) or holds them, and forwards everything else to moto unchanged. moto
// never throttles and always answers at once; this is how the SDK's retries and the functions'
// deadlines meet a throttling or slow IAM. It counts every attempt per IAM Action, so tests can
// check how many attempts a call made.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface IamFaultInjector {
  /** http://127.0.0.1:<port>: give it to the client under test as its endpoint. */
  endpoint: string;
  /** Answer the next `times` requests of `action` (e.g. 'CreateRole') with IAM's Throttling error. */
  throttle(action: string, times: number): void;
  /** Answer every `n`th request of `action` (counted since the last reset) with IAM's Throttling error. */
  throttleEvery(action: string, n: number): void;
  /**
   * Answer the first `n` attempts of every call of `action` with IAM's Throttling error, whatever
   * other calls run at the same time: the SDK numbers its attempts in the amz-sdk-request header
   * (`attempt=2; max=3`). Every call then needs exactly n retries.
   */
  throttleFirstAttempts(action: string, n: number): void;
  /** Hold every request of `action` unanswered (and never forward it) until `release()`. */
  hold(action: string): void;
  /** Forwards the held requests whose client still waits; drops the others. */
  release(): void;
  /** HTTP requests seen per IAM Action, throttled and held ones included (one per SDK attempt). */
  attempts(action: string): number;
  /** Most requests of `action` open at once (received, not yet answered), held ones included. */
  peakInFlight(action: string): number;
  /** The form parameters of every request of `action`, in the order they arrived. */
  log(action: string): URLSearchParams[];
  /** Requests held so far (answered or not). */
  held(action: string): number;
  /** Resolves once the client of every request held now has closed its connection (gave up). */
  heldClientsGone(): Promise<void>;
  reset(): void;
  stop(): Promise<void>;
}

const THROTTLING_BODY = (requestId: string) =>
  `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;

export async function startIamFaultInjector(upstream: string): Promise<IamFaultInjector> {
  const target = new URL(upstream);
  const throttles = new Map<string, number>();
  const everyNth = new Map<string, number>();
  const firstAttempts = new Map<string, number>();
  const holds = new Set<string>();
  const seen = new Map<string, number>();
  const heldCount = new Map<string, number>();
  const open = new Map<string, number>();
  const peak = new Map<string, number>();
  const logs = new Map<string, URLSearchParams[]>();
  let waiting: { req: IncomingMessage; res: ServerResponse; body: Buffer; gone: Promise<void> }[] = [];
  let requestNo = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    // A client that gave up (an aborted call) never reaches moto: its request had no effect.
    if (res.destroyed || req.socket.destroyed) return;
    const out = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    out.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const params = new URLSearchParams(body.toString('utf8'));
      const action = params.get('Action') ?? new URL(req.url ?? '/', 'http://x').searchParams.get('Action') ?? '';
      seen.set(action, (seen.get(action) ?? 0) + 1);
      const log = logs.get(action) ?? [];
      log.push(params);
      logs.set(action, log);
      const nowOpen = (open.get(action) ?? 0) + 1;
      open.set(action, nowOpen);
      peak.set(action, Math.max(peak.get(action) ?? 0, nowOpen));
      res.once('close', () => open.set(action, (open.get(action) ?? 1) - 1));
      const left = throttles.get(action) ?? 0;
      const nth = everyNth.get(action);
      const attempt = Number(/attempt=(\d+)/.exec(String(req.headers['amz-sdk-request'] ?? ''))?.[1] ?? 1);
      if (left > 0 || (nth !== undefined && (seen.get(action) ?? 0) % nth === 0) || attempt <= (firstAttempts.get(action) ?? 0)) {
        if (left > 0) throttles.set(action, left - 1);
        const id = `podiam-fault-${++requestNo}`;
        res.writeHead(400, { 'content-type': 'text/xml', 'x-amzn-requestid': id });
        res.end(THROTTLING_BODY(id));
        return;
      }
      if (holds.has(action)) {
        heldCount.set(action, (heldCount.get(action) ?? 0) + 1);
        const gone = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
        waiting.push({ req, res, body, gone });
        return;
      }
      forward(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const release = () => {
    holds.clear();
    const now = waiting;
    waiting = [];
    for (const w of now) forward(w.req, w.res, w.body);
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    throttle: (action, times) => void throttles.set(action, times),
    throttleEvery: (action, n) => void everyNth.set(action, n),
    throttleFirstAttempts: (action, n) => void firstAttempts.set(action, n),
    hold: (action) => void holds.add(action),
    release,
    attempts: (action) => seen.get(action) ?? 0,
    held: (action) => heldCount.get(action) ?? 0,
    peakInFlight: (action) => peak.get(action) ?? 0,
    log: (action) => [...(logs.get(action) ?? [])],
    heldClientsGone: async () => {
      await Promise.all(waiting.map((w) => w.gone));
    },
    reset: () => {
      throttles.clear();
      everyNth.clear();
      firstAttempts.clear();
      seen.clear();
      heldCount.clear();
      peak.clear();
      logs.clear();
      release();
    },
    stop: async () => {
      for (const w of waiting) w.res.destroy();
      waiting = [];
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
