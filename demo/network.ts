/**
 * Where the demo's node proxy and "pods" live, and how they reach the peers.
 *
 * netns (root): a "node" network namespace with a bridge (203.0.113.1/24) and one namespace per
 * pod (203.0.113.11, .12, …) on veth pairs. The proxy runs in the node namespace and adds its
 * real iptables DNAT of 169.254.169.254:80 there, so a pod's unmodified AWS SDK talks to
 * 169.254.169.254. The peers listen on the host's loopback; a relay in the node namespace
 * listens on the same port numbers and passes each connection over a Unix socket to the host
 * (Unix sockets are not bound to a network namespace): the proxy uses 127.0.0.1:<port> as on
 * the host, the pods use 203.0.113.1:<port>. No route, no host iptables rule, no address
 * outside the documentation ranges and loopback.
 *
 * loopback (no root): the proxy listens on 127.0.0.1 without iptables; each pod is a process
 * whose HTTP requests leave from its own 127.0.0.x address (demo/source-address.mjs), with
 * AWS_EC2_METADATA_SERVICE_ENDPOINT pointing at the proxy.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ip, NetnsLab, netnsAvailable } from '../test/peers/netns.ts';
import { freePort, startProcess, type PeerProcess } from '../test/peers/process.ts';
import { DemoError } from './errors.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

export type NetworkMode = 'netns' | 'loopback';

export interface Command {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface PodSlot {
  ip: string;
  /** The command line that runs `node <args>` as this pod, and the pod's extra environment. */
  node(args: string[]): Command;
}

export interface PodNetwork {
  mode: NetworkMode;
  /** PODIAM_* settings that place the proxy (address, ports, iptables). */
  proxyEnv: Record<string, string>;
  /** The command line that runs `node <args>` where the proxy belongs. */
  proxyNode(args: string[]): Command;
  /** moto's endpoint as a pod reaches it. */
  podMotoEndpoint: string;
  /** http://… of the proxy's metrics listener, and a fetch that reaches it from this process. */
  metrics(pathname: string): Promise<{ status: number; body: string }>;
  addPod(): Promise<PodSlot>;
  cleanup(): Promise<void>;
}

export const NODE_CIDR = '203.0.113.1/24';
export const NODE_IP = '203.0.113.1';
const PROXY_PORT = 8181;
const METRICS_PORT = 9181;

export function defaultMode(): NetworkMode {
  const forced = process.env.PODIAM_DEMO_NETWORK;
  if (forced === 'netns' || forced === 'loopback') return forced;
  return netnsAvailable() ? 'netns' : 'loopback';
}

/** Closes a relay server and every connection it still holds (close() alone would wait for them). */
function closeServer(s: Server, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => s.close(() => resolve()));
  for (const socket of sockets) socket.destroy();
  return closed;
}

/** GET over a Unix socket or TCP, bounded by 5 s. */
async function httpGet(target: { socketPath: string } | { port: number; host: string }, pathname: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path: pathname, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${pathname} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function createPodNetwork(mode: NetworkMode, hostPorts: { moto: number; others: number[] }): Promise<PodNetwork> {
  return mode === 'netns' ? createNetnsNetwork(hostPorts) : createLoopbackNetwork(hostPorts.moto);
}

async function createLoopbackNetwork(motoPort: number): Promise<PodNetwork> {
  const port = await freePort();
  const metricsPort = await freePort();
  let next = 11;
  const preload = path.join(here, 'source-address.mjs');
  return {
    mode: 'loopback',
    proxyEnv: {
      PODIAM_IPTABLES: 'false',
      PODIAM_LISTEN_ADDRESS: '127.0.0.1',
      PODIAM_PORT: String(port),
      PODIAM_METRICS_PORT: String(metricsPort),
    },
    proxyNode: (args) => ({ command: process.execPath, args, env: {} }),
    podMotoEndpoint: `http://127.0.0.1:${motoPort}`,
    metrics: (pathname) => httpGet({ host: '127.0.0.1', port: metricsPort }, pathname),
    addPod: async () => {
      if (next > 250) throw new DemoError('the loopback network has no pod address left (127.0.0.11-250).');
      const ip = `127.0.0.${next++}`;
      return {
        ip,
        node: (args) => ({
          command: process.execPath,
          args: ['--import', preload, ...args],
          env: { PODIAM_DEMO_SOURCE_ADDRESS: ip, AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}` },
        }),
      };
    },
    cleanup: async () => {},
  };
}

const TAG = 'pdmd';

/**
 * Deletes demo namespaces left by a run that was killed outright (SIGKILL leaves no time to
 * clean up): names are `pdmd<pid % 100000>-…`, and one whose number fits no live process is stale.
 */
async function sweepStaleNamespaces(): Promise<void> {
  const live = new Set<number>();
  for (const entry of readdirSync('/proc')) if (/^\d+$/.test(entry)) live.add(Number(entry) % 100000);
  const listed = await ip('netns', 'list').catch(() => '');
  for (const line of listed.split('\n')) {
    const m = new RegExp(`^(${TAG}(\\d+)-\\S+)`).exec(line.trim());
    if (m && !live.has(Number(m[2]))) await ip('netns', 'del', m[1]!).catch(() => undefined);
  }
}

async function createNetnsNetwork(hostPorts: { moto: number; others: number[] }): Promise<PodNetwork> {
  await sweepStaleNamespaces();
  const lab = new NetnsLab(TAG);
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-demo-net-'));
  const relays: Server[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  let forwarder: PeerProcess | undefined;
  const cleanup = async (): Promise<void> => {
    await forwarder?.stop();
    await Promise.all(relays.splice(0).map((r) => closeServer(r, sockets)));
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const nodeNs = await lab.namespace('node');
    const bridge = await lab.bridge(nodeNs, NODE_CIDR);
    // Host side: one Unix socket per peer port, relayed to the peer on the host's loopback.
    const ports = [hostPorts.moto, ...hostPorts.others];
    for (const port of ports) {
      const sock = path.join(dir, `${port}.sock`);
      const server = createServer((client) => {
        const upstream = createConnection(port, '127.0.0.1');
        track(client);
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
      relays.push(server);
    }
    const metricsSock = path.join(dir, 'metrics.sock');
    const readyFile = path.join(dir, 'forwarder.ready');
    const specs = [...ports.map((p) => `tcp:${p}=unix:${path.join(dir, `${p}.sock`)}`), `unix:${metricsSock}=tcp:${METRICS_PORT}`];
    forwarder = await startProcess({
      name: 'node-namespace-relay',
      command: 'ip',
      args: ['netns', 'exec', nodeNs, process.execPath, path.join(here, 'forwarder.mjs'), readyFile, ...specs],
      ready: async () => existsSync(readyFile),
      readyTimeoutMs: 15_000,
    });
    let next = 11;
    return {
      mode: 'netns',
      proxyEnv: {
        PODIAM_IPTABLES: 'true',
        PODIAM_HOST_IP: NODE_IP,
        PODIAM_HOST_INTERFACE: bridge,
        PODIAM_LISTEN_ADDRESS: '0.0.0.0',
        PODIAM_PORT: String(PROXY_PORT),
        PODIAM_METRICS_PORT: String(METRICS_PORT),
        // The check interval is short so a demo run also sees the rule restored if it goes missing.
        PODIAM_IPTABLES_CHECK_INTERVAL_MS: '5000',
      },
      proxyNode: (args) => ({ command: 'ip', args: ['netns', 'exec', nodeNs, process.execPath, ...args], env: {} }),
      podMotoEndpoint: `http://${NODE_IP}:${hostPorts.moto}`,
      metrics: (pathname) => httpGet({ socketPath: metricsSock }, pathname),
      addPod: async () => {
        if (next > 250) throw new DemoError('the pod network has no address left (203.0.113.11-250).');
        const n = next++;
        const ip = `203.0.113.${n}`;
        const ns = await lab.pod(`p${n}`, nodeNs, bridge, `${ip}/24`, NODE_IP);
        return { ip, node: (args) => ({ command: 'ip', args: ['netns', 'exec', ns, process.execPath, ...args], env: {} }) };
      },
      cleanup,
    };
  } catch (err: unknown) {
    await cleanup();
    throw err;
  }
}
