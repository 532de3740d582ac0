/**
 * The proxy's two iptables rules:
 *   nat PREROUTING -d 169.254.169.254/32 -p tcp --dport 80 -i <if> -j DNAT --to-destination <hostIP>:<port>
 *     sends the pods' metadata traffic to the proxy;
 *   filter INPUT -p tcp --dport <port> -m addrtype ! --src-type LOCAL ! -i <if> -j DROP
 *     keeps everyone but this node's pods (and the node itself: kubelet probes) off the proxy's
 *     port, which listens on the host network: a pod on another node must not reach it and claim
 *     an address of this node's pods.
 * Added on start, checked every 30 s (and restored if something removed them). Whether they are
 * removed on exit is decided by the caller (proxy/src/rule-on-shutdown.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TOKEN_DOOR_ADDRESS } from '../../core/src/annotations.ts';
import { ConfigError } from '../../core/src/errors.ts';

const run = promisify(execFile);

export const METADATA_ADDRESS = '169.254.169.254';

export interface RuleSpec {
  hostInterface: string;
  hostIp: string;
  port: number;
  /** The token door's port: 169.254.170.23:80 is sent there, by a rule of the same lifecycle. */
  tokenPort?: number | undefined;
}


/** kube2iam's hostInterface syntax: 'eth0', 'cali+' (iptables wildcard), '!eth0' (every interface but). */
export function interfaceArgs(hostInterface: string): string[] {
  if (!/^!?[A-Za-z0-9_.@:-]{1,15}\+?$/.test(hostInterface)) {
    throw new ConfigError('PODIAM_HOST_INTERFACE', `'${hostInterface}' is not an interface name`, "Use a name such as docker0, cali+ or !eth0.");
  }
  return hostInterface.startsWith('!') ? ['!', '-i', hostInterface.slice(1)] : ['-i', hostInterface];
}

/** The interface test that matches traffic NOT from the pods' interface(s). */
export function otherInterfaceArgs(hostInterface: string): string[] {
  const own = interfaceArgs(hostInterface);
  return own[0] === '!' ? own.slice(1) : ['!', ...own];
}

/** Marks podiam's rules, so that a new proxy can find (and drop) its predecessor's outdated ones. */
export const RULE_COMMENTS = { dnat: 'podiam: metadata DNAT', guard: 'podiam: port guard', tokenDnat: 'podiam: token DNAT', tokenGuard: 'podiam: token port guard' } as const;
const PODIAM_COMMENTS: ReadonlySet<string> = new Set(Object.values(RULE_COMMENTS));

export function guardRuleArgs(spec: RuleSpec, port = spec.port, comment: string = RULE_COMMENTS.guard): string[] {
  return ['INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', String(port), '-m', 'addrtype', '!', '--src-type', 'LOCAL', ...otherInterfaceArgs(spec.hostInterface), '-m', 'comment', '--comment', comment, '-j', 'DROP'];
}

export function ruleArgs(spec: RuleSpec, address = METADATA_ADDRESS, port = spec.port, comment: string = RULE_COMMENTS.dnat): string[] {
  return ['PREROUTING', '-d', `${address}/32`, '-p', 'tcp', '-m', 'tcp', '--dport', '80', ...interfaceArgs(spec.hostInterface), '-m', 'comment', '--comment', comment, '-j', 'DNAT', '--to-destination', `${spec.hostIp}:${port}`];
}

/** The token door's DNAT rule: 169.254.170.23:80 → the token port. */
export function tokenRuleArgs(spec: RuleSpec & { tokenPort: number }): string[] {
  return ruleArgs(spec, TOKEN_DOOR_ADDRESS, spec.tokenPort, RULE_COMMENTS.tokenDnat);
}

export function tokenGuardRuleArgs(spec: RuleSpec & { tokenPort: number }): string[] {
  return guardRuleArgs(spec, spec.tokenPort, RULE_COMMENTS.tokenGuard);
}

/** Splits one line of `iptables -S` into arguments (double quotes group, as iptables prints them). */
export function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

export type Table = 'nat' | 'filter';

/** Runs one iptables command; resolves with what it printed (the rules, for -S). */
export interface IptablesRunner {
  (args: string[], table: Table): Promise<string | void>;
}

/** `-w`: wait for the xtables lock rather than fail when kube-proxy or a CNI holds it. */
export const execIptables: IptablesRunner = async (args, table) => {
  return (await run('iptables', ['-w', '5', '-t', table, ...args], { timeout: 10_000 })).stdout;
};

interface ManagedRule {
  table: Table;
  args: string[];
  /** '-I': first in its chain, so an earlier ACCEPT (kube-proxy, a CNI) cannot pass over it. */
  add: '-A' | '-I';
}

export interface IptablesEvents {
  restored?(): void;
  checkFailed?(err: unknown): void;
}

export class IptablesRule {
  private timer: NodeJS.Timeout | undefined;
  private present = false;

  private readonly rules: ManagedRule[];

  constructor(
    spec: RuleSpec,
    private readonly runner: IptablesRunner = execIptables,
    private readonly events: IptablesEvents = {},
  ) {
    this.rules = [
      // The guard first: the proxy's port is closed to other nodes before pods are sent to it.
      { table: 'filter', args: guardRuleArgs(spec), add: '-I' },
      { table: 'nat', args: ruleArgs(spec), add: '-A' },
    ];
    const tokenPort = spec.tokenPort;
    if (tokenPort !== undefined) {
      this.rules.push({ table: 'filter', args: tokenGuardRuleArgs({ ...spec, tokenPort }), add: '-I' }, { table: 'nat', args: tokenRuleArgs({ ...spec, tokenPort }), add: '-A' });
    }
  }

  get inPlace(): boolean {
    return this.present;
  }

  private async has(rule: ManagedRule): Promise<boolean> {
    try {
      await this.runner(['-C', ...rule.args], rule.table);
      return true;
    } catch (err) {
      // iptables -C exits 1 when the rule is missing; anything else is a real failure.
      if ((err as { code?: unknown }).code === 1) return false;
      throw err;
    }
  }

  /** Whether every rule is in place. */
  async exists(): Promise<boolean> {
    for (const rule of this.rules) if (!(await this.has(rule))) return false;
    return true;
  }

  /** Adds each rule that is missing; true when one had to be added. */
  async ensure(): Promise<boolean> {
    let added = false;
    for (const rule of this.rules) {
      if (await this.has(rule)) continue;
      const [chain, ...rest] = rule.args;
      await this.runner(rule.add === '-I' ? ['-I', chain!, '1', ...rest] : ['-A', ...rule.args], rule.table);
      added = true;
    }
    this.present = true;
    return added;
  }

  /**
   * Deletes podiam's rules that are not this proxy's: a predecessor kept its rules across the
   * restart, and with another port or interface they would shadow (or duplicate) the new ones.
   * Returns how many it deleted. Rules without podiam's comment (kube2iam's, a CNI's) are left alone.
   */
  async removeOutdated(): Promise<number> {
    let removed = 0;
    // Each chain once (nat PREROUTING, filter INPUT): a podiam rule there that is none of ours goes,
    // the token door's rules included when this proxy runs without it.
    const chains = new Map<string, { table: Table; chain: string; ours: string[] }>();
    const asSet = (args: string[]): string => [...args].sort().join('\u0000');
    for (const rule of this.rules) {
      const key = `${rule.table} ${rule.args[0]}`;
      const entry = chains.get(key) ?? { table: rule.table, chain: rule.args[0]!, ours: [] };
      // iptables prints options in its own order: compare as sets of the same arguments.
      entry.ours.push(asSet(rule.args.slice(1)));
      chains.set(key, entry);
    }
    for (const { table, chain, ours } of chains.values()) {
      const listed = (await this.runner(['-S', chain], table)) ?? '';
      for (const line of listed.split('\n')) {
        const args = splitRuleLine(line.trim());
        if (args[0] !== '-A' || args[1] !== chain || !args.some((a) => PODIAM_COMMENTS.has(a))) continue;
        if (ours.includes(asSet(args.slice(2)))) continue;
        await this.runner(['-D', ...args.slice(1)], table);
        removed++;
      }
    }
    return removed;
  }

  /** Stops checking and leaves the rules in place (a new proxy takes them over). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.ensure().then(
        (added) => {
          if (added) this.events.restored?.();
        },
        (err: unknown) => {
          this.present = false;
          this.events.checkFailed?.(err);
        },
      );
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops checking and deletes every copy of the rules, the DNAT rule first. */
  async remove(): Promise<void> {
    this.stop();
    for (const rule of [...this.rules].reverse()) {
      // Bounded: a rule added twice by hand is deleted twice; never loop forever.
      for (let i = 0; i < 10 && (await this.has(rule)); i++) await this.runner(['-D', ...rule.args], rule.table);
    }
    this.present = false;
  }
}
