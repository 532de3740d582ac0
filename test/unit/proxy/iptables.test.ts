import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesRule, RULE_COMMENTS, guardRuleArgs, interfaceArgs, otherInterfaceArgs, ruleArgs, splitRuleLine, tokenGuardRuleArgs, tokenRuleArgs } from '../../../proxy/src/iptables.ts';
import { decideRuleOnShutdown } from '../../../proxy/src/rule-on-shutdown.ts';
import { ConfigError } from '../../../core/src/errors.ts';

// The runner below is an in-memory stand-in for the iptables binary (logic only); real iptables in a
// network namespace is exercised by test/e2e/proxy.
describe('iptables rule arguments', () => {
  it('accepts kube2iam interface forms: a name, a + wildcard and a ! negation', () => {
    assert.deepEqual(interfaceArgs('docker0'), ['-i', 'docker0']);
    assert.deepEqual(interfaceArgs('cali+'), ['-i', 'cali+']);
    assert.deepEqual(interfaceArgs('!eth0'), ['!', '-i', 'eth0']);
    assert.throws(() => interfaceArgs('eth0 -j ACCEPT'), ConfigError);
    assert.throws(() => interfaceArgs('a'.repeat(16)), ConfigError);
  });

  it('DNATs 169.254.169.254:80 from the interface to the host IP and port', () => {
    assert.deepEqual(ruleArgs({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 }), [
      'PREROUTING', '-d', '169.254.169.254/32', '-p', 'tcp', '-m', 'tcp', '--dport', '80', '-i', 'cni0', '-m', 'comment', '--comment', RULE_COMMENTS.dnat, '-j', 'DNAT', '--to-destination', '192.0.2.1:8181',
    ]);
  });

  it("closes the proxy's port to all but the pods' interface and the node itself", () => {
    assert.deepEqual(guardRuleArgs({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 }), [
      'INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '8181', '-m', 'addrtype', '!', '--src-type', 'LOCAL', '!', '-i', 'cni0', '-m', 'comment', '--comment', RULE_COMMENTS.guard, '-j', 'DROP',
    ]);
    assert.deepEqual(otherInterfaceArgs('cali+'), ['!', '-i', 'cali+']);
    // '!eth0' means pods arrive on every interface but eth0: the guard drops what comes on eth0.
    assert.deepEqual(otherInterfaceArgs('!eth0'), ['-i', 'eth0']);
  });

  it('adds each rule only when the check says it is missing (the guard first in INPUT), and removes every copy', async () => {
    const rules: string[] = [];
    const runner = async (args: string[], table: string): Promise<void> => {
      const [op, ...rest] = args;
      const key = `${table} ${(op === '-I' ? [rest[0], ...rest.slice(2)] : rest).join(' ')}`;
      if (op === '-C' && !rules.includes(key)) throw Object.assign(new Error('missing'), { code: 1 });
      if (op === '-A') rules.push(key);
      if (op === '-I') {
        assert.equal(rest[1], '1', 'inserted first in its chain');
        rules.unshift(key);
      }
      if (op === '-D') rules.splice(rules.indexOf(key), 1);
    };
    const rule = new IptablesRule({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 }, runner);
    assert.equal(await rule.ensure(), true);
    assert.equal(await rule.ensure(), false);
    assert.deepEqual(rules.map((r) => r.split(' ').slice(0, 2).join(' ')), ['filter INPUT', 'nat PREROUTING']);
    rules.push(rules[1]!);
    await rule.remove();
    assert.equal(rules.length, 0);
    assert.equal(rule.inPlace, false);
  });
});

describe("a predecessor's rules", () => {
  it('reads iptables -S lines, quoted comments included', () => {
    assert.deepEqual(splitRuleLine('-A PREROUTING -i x0 -m comment --comment "podiam: metadata DNAT" -j DNAT'), ['-A', 'PREROUTING', '-i', 'x0', '-m', 'comment', '--comment', 'podiam: metadata DNAT', '-j', 'DNAT']);
  });

  it("deletes podiam's rules for another port or interface, and leaves its own and anyone else's", async () => {
    const old = { hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 };
    const mine = { hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8282 };
    // As iptables -S prints them: its own option order, the comment quoted.
    const print = (args: string[]): string => `-A ${args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`;
    const kube2iam = '-A PREROUTING -d 169.254.169.254/32 -i cni0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.0.2.1:8181';
    const tables: Record<string, string[]> = {
      nat: [print(ruleArgs(old)), print(ruleArgs(mine)), kube2iam],
      filter: [print(guardRuleArgs(old)), print(guardRuleArgs(mine))],
    };
    const deleted: string[] = [];
    const runner = async (args: string[], table: string): Promise<string | void> => {
      if (args[0] === '-S') return tables[table]!.filter((l) => l.startsWith(`-A ${args[1]} `)).join('\n');
      if (args[0] === '-D') {
        deleted.push(`${table} ${args.slice(1).join(' ')}`);
        tables[table] = tables[table]!.filter((l) => l !== print(args.slice(1)));
      }
    };
    const rule = new IptablesRule(mine, runner);
    assert.equal(await rule.removeOutdated(), 2);
    assert.deepEqual(tables.nat, [print(ruleArgs(mine)), kube2iam]);
    assert.deepEqual(tables.filter, [print(guardRuleArgs(mine))]);
    assert.equal(await rule.removeOutdated(), 0);
  });
});

describe("the token door's rules", () => {
  it('sends 169.254.170.23:80 to the token port and guards that port, beside the metadata rules', () => {
    const spec = { hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181, tokenPort: 8182 };
    assert.deepEqual(tokenRuleArgs(spec), [
      'PREROUTING', '-d', '169.254.170.23/32', '-p', 'tcp', '-m', 'tcp', '--dport', '80', '-i', 'cni0', '-m', 'comment', '--comment', RULE_COMMENTS.tokenDnat, '-j', 'DNAT', '--to-destination', '192.0.2.1:8182',
    ]);
    assert.deepEqual(tokenGuardRuleArgs(spec).slice(0, 7), ['INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '8182']);
  });

  it("adds all four rules together, and a proxy without the token door deletes a predecessor's token rules", async () => {
    const tables: Record<string, string[][]> = { nat: [], filter: [] };
    const same = (a: string[], b: string[]): boolean => a.join('\u0000') === b.join('\u0000');
    // As iptables -S prints them: the comment quoted.
    const print = (args: string[]): string => `-A ${args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`;
    const runner = async (args: string[], table: string): Promise<string | void> => {
      const [op, ...rest] = args;
      const t = tables[table]!;
      if (op === '-S') return t.filter((r) => r[0] === rest[0]).map(print).join('\n');
      const rule = op === '-I' ? [rest[0]!, ...rest.slice(2)] : rest;
      const at = t.findIndex((r) => same(r, rule));
      if (op === '-C' && at < 0) throw Object.assign(new Error('missing'), { code: 1 });
      if (op === '-A' || op === '-I') t.push(rule);
      if (op === '-D') t.splice(at, 1);
    };
    const withToken = new IptablesRule({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181, tokenPort: 8182 }, runner);
    await withToken.ensure();
    assert.equal(tables.nat!.length + tables.filter!.length, 4);
    assert.equal(tables.nat!.filter((r) => r.includes('169.254.170.23/32')).length, 1);
    const without = new IptablesRule({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 }, runner);
    assert.equal(await without.removeOutdated(), 2);
    assert.equal([...tables.nat!, ...tables.filter!].some((r) => r.includes('8182') || r.includes('192.0.2.1:8182')), false);
    assert.equal(tables.nat!.length + tables.filter!.length, 2);
  });
});

describe('the iptables rules when the proxy stops', () => {
  it('keeps them while the DaemonSet remains or cannot be asked, and removes them when it is deleted', () => {
    assert.equal(decideRuleOnShutdown('present').action, 'keep');
    assert.equal(decideRuleOnShutdown('unknown').action, 'keep');
    assert.equal(decideRuleOnShutdown('deleting').action, 'remove');
    assert.equal(decideRuleOnShutdown('gone').action, 'remove');
    assert.equal(decideRuleOnShutdown('not-configured').action, 'remove');
    assert.match(decideRuleOnShutdown('present').reason, /never sent to the node IMDS/);
  });
});
