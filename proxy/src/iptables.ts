/**
 * The DNAT rule that sends pods' metadata traffic to the proxy:
 *   nat PREROUTING -d 169.254.169.254/32 -p tcp --dport 80 -i <if> -j DNAT --to-destination <hostIP>:<port>
 * Added on start, checked every 30 s (and restored if something removed it), removed on exit.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError } from '../../core/src/errors.ts';

const run = promisify(execFile);

export const METADATA_ADDRESS = '169.254.169.254';

export interface RuleSpec {
  hostInterface: string;
  hostIp: string;
  port: number;
}

/** kube2iam's hostInterface syntax: 'eth0', 'cali+' (iptables wildcard), '!eth0' (every interface but). */
export function interfaceArgs(hostInterface: string): string[] {
  if (!/^!?[A-Za-z0-9_.@:-]{1,15}\+?$/.test(hostInterface)) {
    throw new ConfigError('PODIAM_HOST_INTERFACE', `'${hostInterface}' is not an interface name`, "Use a name such as docker0, cali+ or !eth0.");
  }
  return hostInterface.startsWith('!') ? ['!', '-i', hostInterface.slice(1)] : ['-i', hostInterface];
}

export function ruleArgs(spec: RuleSpec): string[] {
  return ['PREROUTING', '-d', `${METADATA_ADDRESS}/32`, '-p', 'tcp', '-m', 'tcp', '--dport', '80', ...interfaceArgs(spec.hostInterface), '-j', 'DNAT', '--to-destination', `${spec.hostIp}:${spec.port}`];
}

export interface IptablesRunner {
  (args: string[]): Promise<void>;
}

/** `-w`: wait for the xtables lock rather than fail when kube-proxy or a CNI holds it. */
export const execIptables: IptablesRunner = async (args) => {
  await run('iptables', ['-w', '5', '-t', 'nat', ...args], { timeout: 10_000 });
};

export interface IptablesEvents {
  restored?(): void;
  checkFailed?(err: unknown): void;
}

export class IptablesRule {
  private timer: NodeJS.Timeout | undefined;
  private present = false;

  constructor(
    private readonly spec: RuleSpec,
    private readonly runner: IptablesRunner = execIptables,
    private readonly events: IptablesEvents = {},
  ) {}

  get inPlace(): boolean {
    return this.present;
  }

  async exists(): Promise<boolean> {
    try {
      await this.runner(['-C', ...ruleArgs(this.spec)]);
      return true;
    } catch (err) {
      // iptables -C exits 1 when the rule is missing; anything else is a real failure.
      if ((err as { code?: unknown }).code === 1) return false;
      throw err;
    }
  }

  /** Adds the rule unless it is there; true when it had to be added. */
  async ensure(): Promise<boolean> {
    if (await this.exists()) {
      this.present = true;
      return false;
    }
    await this.runner(['-A', ...ruleArgs(this.spec)]);
    this.present = true;
    return true;
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

  /** Stops checking and deletes every copy of the rule. */
  async remove(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Bounded: a rule added twice by hand is deleted twice; never loop forever.
    for (let i = 0; i < 10 && (await this.exists()); i++) await this.runner(['-D', ...ruleArgs(this.spec)]);
    this.present = false;
  }
}
