// Load and requests for bench/proxy/run.ts:
//  - wrk (Debian's, closed loop) on the generator core, to saturate a server;
//  - an open-loop generator at a fixed rate (wrk2's method: latency counted from the moment each
//    request was due, so a stall delays and counts every request scheduled behind it);
//  - single requests from a chosen loopback source address, as a pod on the node would send them.
import { execFile } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { OTHER_CORE, cpuMicros, prioritized } from './procs.ts';

export interface RawAnswer {
  status: number;
  /** Header lines in the order sent, as [name, value]. */
  headers: Array<[string, string]>;
  headerBytes: number;
  body: Buffer;
}

/** Sends `requestText` on a fresh connection and reads one answer (Content-Length framed). */
export function rawExchange(port: number, requestText: string, localAddress = '127.0.0.1'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 5 s')), 5000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = data.subarray(0, end).toString('latin1').split('\r\n');
      const headers = lines.slice(1).map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
      const length = Number(headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, headerBytes: end + 4, body: data.subarray(end + 4, end + 4 + length) });
    });
    socket.write(requestText);
  });
}

export interface CallResult {
  status: number;
  body: string;
}

/** One request on a fresh connection from `localAddress` (a pod's source address). */
export function call(port: number, localAddress: string, method: string, path: string, headers: Record<string, string> = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, localAddress, method, path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface SaturationRound {
  answers: number;
  non2xx: number;
  socketErrors: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** The server's CPU time over the wall time of the window: 1.0 is the whole core. */
  busy: number;
  cpuMicrosPerAnswer: number;
  answersPerSecond: number;
}

/**
 * wrk on the generator core against `url` for `seconds`, with `connections` keep-alive
 * connections; the server's CPU (all threads, /proc/<pid>/stat) read right before wrk starts
 * and right after it exits.
 */
export async function saturate(serverPid: number, url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<SaturationRound> {
  const args = ['-c', String(OTHER_CORE), 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const cpu0 = cpuMicros(serverPid);
  const t0 = performance.now();
  const [cmd, cmdArgs] = prioritized('taskset', args);
  const out = await new Promise<string>((resolve, reject) => {
    execFile(cmd, cmdArgs, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => (err ? reject(new Error(`wrk failed: ${stderr || String(err)}`)) : resolve(stdout)));
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpuMicros(serverPid) - cpu0) / 1e6;
  const answers = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(answers) || answers === 0) throw new Error(`wrk answered nothing:\n${out}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    answers, non2xx, socketErrors, wallSeconds, cpuSeconds,
    busy: cpuSeconds / wallSeconds,
    cpuMicrosPerAnswer: (cpuSeconds * 1e6) / answers,
    answersPerSecond: answers / wallSeconds,
  };
}

export interface FixedRateRound {
  /** Due time to the end of the answer, ms (wrk2's "corrected" latency). */
  fromDue: number[];
  /** Send to the end of the answer, ms. */
  fromSend: number[];
  non200: number;
  /** How late the generator sent, at worst (ms): large values mean the generator, not the server, lagged. */
  maxSendLagMs: number;
}

/**
 * Open loop at `rps` for `seconds` over up to `sockets` keep-alive connections from 127.0.0.1.
 * This process should be pinned to the generator core: it spins (setImmediate) between sends so
 * a request leaves when it is due, not at the next timer tick.
 */
export async function fixedRate(port: number, path: string, headers: Record<string, string>, rps: number, seconds: number, sockets = 16): Promise<FixedRateRound> {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const total = rps * seconds;
  const fromDue: number[] = [];
  const fromSend: number[] = [];
  let non200 = 0;
  let maxSendLagMs = 0;
  const inflight: Array<Promise<void>> = [];
  const start = performance.now() + 50;
  let sent = 0;
  const one = (due: number): Promise<void> =>
    new Promise((resolve) => {
      const sentAt = performance.now();
      maxSendLagMs = Math.max(maxSendLagMs, sentAt - due);
      const req = request({ host: '127.0.0.1', port, path, headers, agent, timeout: 5000 }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          const end = performance.now();
          if (res.statusCode !== 200) non200++;
          fromDue.push(end - due);
          fromSend.push(end - sentAt);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        non200++;
        resolve();
      });
      req.end();
    });
  await new Promise<void>((resolve) => {
    const loop = (): void => {
      const now = performance.now();
      for (; sent < total && start + (sent * 1000) / rps <= now; sent++) inflight.push(one(start + (sent * 1000) / rps));
      if (sent >= total) resolve();
      else setImmediate(loop);
    };
    setImmediate(loop);
  });
  await Promise.all(inflight);
  agent.destroy();
  return { fromDue, fromSend, non200, maxSendLagMs };
}
