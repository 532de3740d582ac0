/**
 * Keeps one pod from taking the metadata listener away from every other pod on its node.
 *
 * Attacker: any process in any pod of the node (no permission needed: the DNAT rule sends all pod
 * traffic for 169.254.169.254:80 here). node:http alone lets it
 *  - hold sockets that never send a byte (headersTimeout and requestTimeout start at the first
 *    byte; server.timeout is 0), until file descriptors or memory run out;
 *  - pipeline thousands of requests on one socket, whose answers queue in memory until the
 *    container's memory limit kills the proxy, and with it every pod's credentials.
 * The guard bounds each: a first-byte deadline, a cap on open sockets in total and per source IP,
 * and a cap on requests in flight per socket. Each refusal is counted by reason.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** A socket that has sent no byte after this long is closed. */
  firstByteTimeoutMs: number;
  /** Open sockets, all sources together. */
  maxConnections: number;
  /** Open sockets from one source IP (one pod). */
  maxConnectionsPerIp: number;
  /** Requests read from one socket but not yet answered (HTTP pipelining depth). */
  maxPipelined: number;
  /** Requests served on one keep-alive socket before node:http asks the client to reconnect. */
  maxRequestsPerSocket: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  firstByteTimeoutMs: 2000,
  maxConnections: 4096,
  maxConnectionsPerIp: 64,
  maxPipelined: 16,
  maxRequestsPerSocket: 1000,
};

export type RefusalReason = 'max_connections' | 'max_connections_per_ip' | 'first_byte_timeout' | 'pipelining';

export interface GuardEvents {
  refused(reason: RefusalReason, ip: string): void;
  openChanged(open: number): void;
}

/** node:http gives '::ffff:192.0.2.10' on dual-stack sockets; the index holds '192.0.2.10'. */
export function socketIp(socket: Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Counts per source IP; pure bookkeeping, so the caps can be tested without sockets. */
export class ConnectionCounts {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<ConnectionLimits, 'maxConnections' | 'maxConnectionsPerIp'>) {}

  get open(): number {
    return this.total;
  }

  /** Takes a slot for a new socket, or says why there is none. */
  admit(ip: string): RefusalReason | undefined {
    if (this.total >= this.limits.maxConnections) return 'max_connections';
    const mine = this.perIp.get(ip) ?? 0;
    if (mine >= this.limits.maxConnectionsPerIp) return 'max_connections_per_ip';
    this.perIp.set(ip, mine + 1);
    this.total++;
    return undefined;
  }

  release(ip: string): void {
    const mine = this.perIp.get(ip) ?? 0;
    if (mine <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, mine - 1);
    this.total = Math.max(0, this.total - 1);
  }
}

/** Requests read from a socket and not yet answered, kept on the socket itself (no map lookup per request). */
const IN_FLIGHT = Symbol('podiam.inFlight');
type CountedSocket = Socket & { [IN_FLIGHT]?: number };

/** One listener for every response (no closure per request): the answer is done, its socket has one fewer in flight. */
function responseClosed(this: ServerResponse): void {
  const socket = this.req.socket as CountedSocket;
  socket[IN_FLIGHT] = Math.max(0, (socket[IN_FLIGHT] ?? 1) - 1);
}

/** A request's pipelining check: true when the request was refused and must not be routed. */
export type RequestGuard = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Wires the guard into a node:http server (its connection caps and first-byte timeout; call
 * before listen) and returns the per-request pipelining check, which the request listener calls
 * first: one listener per request instead of two (node's emit copies the listener array when
 * there are several).
 */
export function guardConnections(server: Server, limits: ConnectionLimits, events: GuardEvents): RequestGuard {
  const counts = new ConnectionCounts(limits);
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;

  server.on('connection', (socket: Socket) => {
    const ip = socketIp(socket);
    const refusal = counts.admit(ip);
    if (refusal) {
      events.refused(refusal, ip);
      // No answer is written: the client is either flooding or holding sockets open.
      socket.destroy();
      return;
    }
    events.openChanged(counts.open);
    // bytesRead is kept by the stream handle, so it counts what node:http's parser consumes
    // directly from the handle too (no 'data' events reach JavaScript for such sockets).
    const firstByte = setTimeout(() => {
      if (socket.bytesRead === 0 && !socket.destroyed) {
        events.refused('first_byte_timeout', ip);
        socket.destroy();
      }
    }, limits.firstByteTimeoutMs);
    firstByte.unref();
    socket.once('close', () => {
      clearTimeout(firstByte);
      counts.release(ip);
      events.openChanged(counts.open);
    });
  });

  return (req, res) => {
    const socket = req.socket as CountedSocket;
    const depth = (socket[IN_FLIGHT] ?? 0) + 1;
    socket[IN_FLIGHT] = depth;
    // on(), not once(): a response closes once, and once() would allocate a wrapper per request.
    res.on('close', responseClosed);
    if (depth <= limits.maxPipelined) return false;
    // node:http goes on parsing what it has already read from a destroyed socket (up to 64 KiB,
    // hundreds of requests): count the socket once, and spend nothing more on those.
    if (socket.destroyed) return true;
    events.refused('pipelining', socketIp(socket));
    // Answers already queued on this socket are dropped with it; the client reconnects.
    socket.destroy();
    return true;
  };
}
