import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesRule, interfaceArgs, ruleArgs } from '../../../proxy/src/iptables.ts';
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
      'PREROUTING', '-d', '169.254.169.254/32', '-p', 'tcp', '-m', 'tcp', '--dport', '80', '-i', 'cni0', '-j', 'DNAT', '--to-destination', '192.0.2.1:8181',
    ]);
  });

  it('adds the rule only when the check says it is missing, and removes every copy', async () => {
    const rules: string[] = [];
    const runner = async (args: string[]): Promise<void> => {
      const [op, ...rest] = args;
      const key = rest.join(' ');
      if (op === '-C' && !rules.includes(key)) throw Object.assign(new Error('missing'), { code: 1 });
      if (op === '-A') rules.push(key);
      if (op === '-D') rules.splice(rules.indexOf(key), 1);
    };
    const rule = new IptablesRule({ hostInterface: 'cni0', hostIp: '192.0.2.1', port: 8181 }, runner);
    assert.equal(await rule.ensure(), true);
    assert.equal(await rule.ensure(), false);
    assert.equal(rules.length, 1);
    rules.push(rules[0]!);
    await rule.remove();
    assert.equal(rules.length, 0);
    assert.equal(rule.inPlace, false);
  });
});
