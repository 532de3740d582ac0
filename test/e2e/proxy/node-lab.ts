// Shared by the proxy's end-to-end tests (not a test file): a "node" network namespace with a pods'
// bridge, the host's loopback peers relayed into it through Unix sockets (forwarder.mjs), and the
// proxy started from source inside it, as the chart runs it (host network, real iptables).
import { createConnection, createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { toolEnv } from '../../peers/index.ts';
import { NetnsLab, waitForLine } from '../../peers/netns.ts';

export const repo = process.env.PODIAM_REPO_ROOT ?? process.cwd();

export class NodeLab {
  readonly lab: NetnsLab;
  nodeNs = '';
  bridge = '';
  private readonly relays: Server[] = [];
  private readonly sockDir = mkdtempSync(path.join(tmpdir(), 'podiam-e2e-'));

  constructor(tag: string, readonly nodeIp: string) {
    this.lab = new NetnsLab(tag);
  }

  /** The node namespace, its pods' bridge (nodeIp/24) and relays of these host loopback ports. */
  async start(hostPorts: number[]): Promise<void> {
    this.nodeNs = await this.lab.namespace('node');
    this.bridge = await this.lab.bridge(this.nodeNs, `${this.nodeIp}/24`);
    const fwd = this.lab.spawn(this.nodeNs, process.execPath, [path.join(repo, 'test/e2e/proxy/forwarder.mjs'), ...hostPorts.map((p) => `${p}=${this.relay(p)}`)]);
    await waitForLine(fwd, /^forwarding all$/, 10_000);
  }

  /** A pod namespace on the bridge. */
  pod(role: string, cidr: string): Promise<string> {
    return this.lab.pod(role, this.nodeNs, this.bridge, cidr, this.nodeIp);
  }

  /** Starts the proxy from source in the node namespace; resolves once it says it is ready. */
  async proxy(env: Record<string, string>): Promise<ChildProcess> {
    const child = this.lab.spawn(this.nodeNs, process.execPath, ['--import', 'tsx', 'proxy/src/main.ts'], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOST_IP: this.nodeIp, PODIAM_HOST_INTERFACE: this.bridge, PODIAM_LOG_LEVEL: 'info', ...env },
    });
    await waitForLine(child, /podiam proxy ready/, 30_000);
    return child;
  }

  /** Stops a proxy started by proxy() as its DaemonSet would (SIGTERM), and waits for it to exit. */
  async stopProxy(child: ChildProcess | undefined): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** One `pod-client.ts` run inside a pod namespace; its last line, parsed. */
  async client<T>(ns: string, args: string[]): Promise<T> {
    const env = toolEnv({ AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' });
    const { stdout } = await this.lab.exec(ns, process.execPath, ['--import', 'tsx', 'test/e2e/proxy/pod-client.ts', ...args], { cwd: repo, env, timeoutMs: 20_000 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
  }

  /** Whether `iptables -t table -C args` finds the rule in the node namespace. */
  async hasRule(table: string, args: string[]): Promise<boolean> {
    return this.lab.exec(this.nodeNs, 'iptables', ['-w', '5', '-t', table, '-C', ...args]).then(
      () => true,
      () => false,
    );
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
    for (const r of this.relays) r.close();
    rmSync(this.sockDir, { recursive: true, force: true });
  }

  private relay(port: number): string {
    const sock = path.join(this.sockDir, `${port}.sock`);
    const server = createServer((c) => {
      const up = createConnection({ host: '127.0.0.1', port });
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    }).listen(sock);
    this.relays.push(server);
    return sock;
  }
}
