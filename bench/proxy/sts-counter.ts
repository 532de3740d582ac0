// A counting relay in front of moto's STS: the proxy is pointed at it (PODIAM_STS_ENDPOINT), it
// forwards every request unchanged and counts AssumeRole calls, their answers, the calls the
// proxy gave up on (socket closed before the answer), and the most calls in flight at once.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StsCounts {
  assumeRole: number;
  ok: number;
  failed: number;
  /** The proxy closed the connection before moto answered (its own timeout). */
  abandoned: number;
  maxInFlight: number;
  /** AssumeRole calls per role session name (one per pod): how many pods were asked for more than once. */
  perSession: Map<string, number>;
}

export class StsCounter {
  private server: Server | undefined;
  private inFlight = 0;
  counts: StsCounts = StsCounter.empty();

  constructor(private readonly upstream: string) {}

  private static empty(): StsCounts {
    return { assumeRole: 0, ok: 0, failed: 0, abandoned: 0, maxInFlight: 0, perSession: new Map() };
  }

  reset(): void {
    this.counts = StsCounter.empty();
  }

  async start(): Promise<string> {
    const up = new URL(this.upstream);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const form = new URLSearchParams(body.toString('utf8'));
        const isAssume = form.get('Action') === 'AssumeRole';
        const counts = this.counts;
        let answered = false;
        if (isAssume) {
          counts.assumeRole++;
          const session = form.get('RoleSessionName') ?? '?';
          counts.perSession.set(session, (counts.perSession.get(session) ?? 0) + 1);
          this.inFlight++;
          counts.maxInFlight = Math.max(counts.maxInFlight, this.inFlight);
        }
        const done = (outcome: 'ok' | 'failed' | 'abandoned'): void => {
          if (!isAssume || answered) return;
          answered = true;
          this.inFlight--;
          counts[outcome]++;
        };
        const up2 = request(
          { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
          (ur) => {
            if ((ur.statusCode ?? 0) >= 300) done('failed');
            res.writeHead(ur.statusCode ?? 502, ur.headers);
            ur.pipe(res);
          },
        );
        up2.on('error', () => {
          done('failed');
          res.destroy();
        });
        res.on('close', () => {
          done(res.writableFinished ? 'ok' : 'abandoned');
          if (!res.writableFinished) up2.destroy();
        });
        up2.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * Prefetch has settled: AssumeRole has answered for at least `sessions` role sessions (one per
   * pod), none is in flight and none started for `quietMs`. Bounded by `maxMs`.
   */
  async settled(sessions: number, quietMs: number, maxMs: number): Promise<boolean> {
    const end = performance.now() + maxMs;
    let last = this.counts.assumeRole;
    let quietSince = performance.now();
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      if (this.counts.assumeRole !== last || this.inFlight > 0) {
        last = this.counts.assumeRole;
        quietSince = performance.now();
      } else if (this.counts.perSession.size >= sessions && performance.now() - quietSince >= quietMs) {
        return true;
      }
    }
    return false;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
