// Network namespaces for tests: a "node" namespace with a bridge, "pods" attached to it by veth
// pairs, and commands run inside any of them. Addresses come only from the documentation ranges
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24). Names carry the pid so parallel runs do not
// clash; cleanup() deletes every namespace made (which deletes their veths, bridges and iptables
// rules with them) and is safe to call twice. Needs root, `ip` and `iptables`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const netnsAvailable = (): boolean => process.getuid?.() === 0;

const DOC_RANGES = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./];

function assertDocAddress(cidrOrIp: string): void {
  if (!DOC_RANGES.some((r) => r.test(cidrOrIp))) throw new Error(`netns: ${cidrOrIp} is not in a documentation range; tests use only 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24`);
}

export async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args, { timeout: 10_000 })).stdout;
}

export class NetnsLab {
  readonly tag: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private links = 0;

  constructor(tag = 'pdm') {
    this.tag = `${tag}${process.pid % 100000}`;
  }

  /** Creates a namespace with loopback up; returns its name. */
  async namespace(role: string): Promise<string> {
    const name = `${this.tag}-${role}`;
    await ip('netns', 'add', name);
    this.namespaces.push(name);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** A bridge in `ns` with address `cidr` (e.g. 192.0.2.1/24); returns the bridge's name (≤ 15 chars). */
  async bridge(ns: string, cidr: string): Promise<string> {
    assertDocAddress(cidr);
    const name = `br${this.tag}`.slice(0, 15);
    await ip('-n', ns, 'link', 'add', name, 'type', 'bridge');
    await ip('-n', ns, 'addr', 'add', cidr, 'dev', name);
    await ip('-n', ns, 'link', 'set', name, 'up');
    return name;
  }

  /** Makes a pod namespace wired to `bridge` in `nodeNs`, with address `cidr` and a default route via `gateway`. */
  async pod(role: string, nodeNs: string, bridge: string, cidr: string, gateway: string): Promise<string> {
    assertDocAddress(cidr);
    assertDocAddress(gateway);
    const ns = await this.namespace(role);
    const n = this.links++;
    const outer = `v${n}n${this.tag}`.slice(0, 15);
    const inner = `v${n}p${this.tag}`.slice(0, 15);
    await ip('-n', nodeNs, 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
    await ip('-n', nodeNs, 'link', 'set', outer, 'master', bridge);
    await ip('-n', nodeNs, 'link', 'set', outer, 'up');
    await ip('-n', ns, 'addr', 'add', cidr, 'dev', inner);
    await ip('-n', ns, 'link', 'set', inner, 'up');
    await ip('-n', ns, 'route', 'add', 'default', 'via', gateway);
    return ns;
  }

  /** Runs a command to completion inside `ns` (bounded by timeoutMs). */
  async exec(ns: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
    return run('ip', ['netns', 'exec', ns, command, ...args], { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, cwd: opts.cwd, encoding: 'utf8' });
  }

  /** Starts a long-running command inside `ns`; it is killed by cleanup(). */
  spawn(ns: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    // Always drain: a child blocked on a full stdout pipe would stall (the proxy logs to stdout).
    child.stdout?.on('data', () => undefined);
    child.stderr?.on('data', () => undefined);
    return child;
  }

  async cleanup(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    for (const ns of this.namespaces.splice(0).reverse()) {
      await ip('netns', 'del', ns).catch(() => undefined);
    }
  }
}

/** Resolves with the first line of `child`'s stdout that matches, or rejects after timeoutMs / on exit. */
export function waitForLine(child: ChildProcess, match: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => finish(new Error(`no line matching ${match} within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buffered += d.toString();
      const line = buffered.split('\n').find((l) => match.test(l));
      if (line) finish(undefined, line);
    };
    const onErr = (d: Buffer): void => {
      stderr += d.toString();
    };
    const onExit = (code: number | null): void => finish(new Error(`exited with ${code} before printing ${match}; stdout: ${buffered.slice(-2000)} stderr: ${stderr.slice(-2000)}`));
    const finish = (err?: Error, line?: string): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}
