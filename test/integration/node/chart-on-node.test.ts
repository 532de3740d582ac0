// The chart on a real node (issue 12): `helm upgrade --install` of chart/ with the image that
// proxy/Dockerfile builds, run by a real kubelet and containerd (test/peers/node.ts), application
// pods in real containers asking 169.254.169.254 with the unmodified AWS SDK for JavaScript v3 and
// botocore, `helm test`, a rolling upgrade under load and `helm uninstall`. The world (moto, the
// metadata mock as the node's IMDS, the admission webhook, published and reconciled policies/) is
// the one `npm run demo -- --node` shows (demo/node-world.ts). The tests share it and run in order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { managedRoleName } from '../../../core/src/naming.ts';
import { DEMO_NAMES } from '../../../demo/checks.ts';
import { RELEASE, RELEASE_NAMESPACE, sleep, splitRef, startNodeWorld, type NodeWorld } from '../../../demo/node-world.ts';
import { nodeSkipReason } from '../../peers/node.ts';

const run = promisify(execFile);
const skip = nodeSkipReason();

const ACCOUNT = '123456789012';
const sessionOf = (namespace: string, service: string) =>
  new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/${managedRoleName({ cluster: DEMO_NAMES.cluster, namespace, service }).replace(/[.]/g, '\\.')}/`);
const loopScript = readFileSync(path.join(import.meta.dirname, 'imds-loop.mjs'), 'utf8');

interface Answer {
  t: number;
  outcome: string;
  role?: string;
  keyId?: string;
}

/** The node proxy's process (the image's CMD) on this machine, or undefined. */
function proxyPids(): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === '/nodejs/bin/node' && argv.includes('/app/main.cjs')) pids.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function statusField(pid: number, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1]?.trim() ?? '';
}

describe('the chart on a real node: kubelet, containerd, the image from proxy/Dockerfile', { skip }, () => {
  let world: NodeWorld;
  const nodeNat = async () => (await world.node.execInNode('iptables-save', ['-t', 'nat'])).stdout;

  before(async () => {
    world = await startNodeWorld();
    const installed = await world.installChart();
    assert.ok(installed.ok, `helm upgrade --install failed: ${installed.stderr}`);
  });
  after(async () => {
    await world?.stop();
  });

  it('makes the DaemonSet Ready through the kubelet: its probes pass on the node', async () => {
    const ds = JSON.parse((await world.kubectl(['get', 'daemonset', RELEASE, '-n', RELEASE_NAMESPACE, '-o', 'json'])).stdout) as {
      status: { desiredNumberScheduled: number; numberReady: number; updatedNumberScheduled: number };
    };
    assert.equal(ds.status.desiredNumberScheduled, 1);
    assert.equal(ds.status.numberReady, 1);
    const pods = JSON.parse((await world.kubectl(['get', 'pods', '-n', RELEASE_NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'json'])).stdout) as {
      items: Array<{ spec: { nodeName: string }; status: { containerStatuses: Array<{ ready: boolean; restartCount: number; image: string }> } }>;
    };
    const proxy = pods.items.filter((p) => p.status.containerStatuses?.[0]?.image.includes(splitRef(world.images.proxy.ref)[0]));
    assert.equal(proxy.length, 1);
    assert.equal(proxy[0]!.spec.nodeName, world.node.nodeName);
    assert.equal(proxy[0]!.status.containerStatuses[0]!.ready, true);
  });

  it('runs the proxy as the chart says: root with only NET_ADMIN, no privilege escalation', () => {
    const pids = proxyPids();
    assert.equal(pids.length, 1, `expected one proxy process, found ${pids.length}`);
    const pid = pids[0]!;
    const NET_ADMIN = 1n << 12n;
    assert.equal(BigInt(`0x${statusField(pid, 'CapEff')}`), NET_ADMIN);
    assert.equal(BigInt(`0x${statusField(pid, 'CapPrm')}`), NET_ADMIN);
    assert.equal(BigInt(`0x${statusField(pid, 'CapBnd')}`), NET_ADMIN);
    assert.equal(statusField(pid, 'NoNewPrivs'), '1');
    // The process lives in the node's network namespace (hostNetwork), not the machine's.
    assert.equal(statSync(`/proc/${pid}/ns/net`).ino, statSync(`/run/netns/${world.node.netns}`).ino);
  });

  it('adds its DNAT rule in the node namespace on the CNI bridge named by hostInterface, and none in the machine\'s', async () => {
    const rules = (await nodeNat()).split('\n').filter((l) => l.includes('169.254.169.254'));
    assert.ok(
      rules.some((l) => l.includes(`-i ${world.hostInterface}`) && /-p tcp/.test(l) && /--dport 80/.test(l) && /-j DNAT/.test(l)),
      `no DNAT rule on ${world.hostInterface} in:\n${rules.join('\n')}`,
    );
    const root = await run('iptables-save', ['-t', 'nat'], { timeout: 10_000 });
    assert.doesNotMatch(root.stdout, /podiam/);
  });

  it('gives two annotated pods their own roles through 169.254.169.254, with the JS SDK v3 and with botocore', async () => {
    await Promise.all([
      world.createAppPod({ namespace: 'orders', name: 'reader', role: 'reader' }),
      world.createAppPod({ namespace: 'orders', name: 'ledger', role: 'ledger' }),
    ]);
    for (const [name, service] of [['reader', 'reader'], ['ledger', 'ledger']] as const) {
      const js = await world.execInPod('orders', name, ['node', '/app/sts-whoami.mjs']);
      assert.ok(js.ok, `${name} (JS v3): ${js.stderr}`);
      assert.match(js.stdout.trim(), sessionOf('orders', service));
      const py = await world.execInPod('orders', name, ['python3', '/app/sts_whoami.py']);
      assert.ok(py.ok, `${name} (botocore): ${py.stderr}`);
      assert.match(py.stdout.trim(), sessionOf('orders', service));
    }
  });

  it('gives an unannotated pod no credentials, never the node\'s', async () => {
    await world.createAppPod({ namespace: 'orders', name: 'plain' });
    const js = await world.execInPod('orders', 'plain', ['node', '/app/sts-whoami.mjs']);
    assert.equal(js.ok, false, `an unannotated pod got an identity: ${js.stdout}`);
    assert.match(js.stderr, /no identity/);
    const loop = await world.execInPod('orders', 'plain', ['env', 'LOOP_DURATION_MS=3000', 'LOOP_INTERVAL_MS=200', 'node', '--input-type=module', '-e', loopScript], 30_000);
    assert.ok(loop.ok, loop.stderr);
    const answers = JSON.parse(loop.stdout) as Answer[];
    assert.ok(answers.length > 0);
    assert.deepEqual(answers.filter((a) => a.outcome === 'ok' || a.role === world.account.nodeRoleName), []);
    assert.ok(answers.every((a) => a.outcome === 'list-404'), JSON.stringify(answers.slice(0, 3)));
  });

  it('passes helm test', async () => {
    const r = await world.helm(['test', RELEASE, '-n', RELEASE_NAMESPACE, '--timeout', '90s', '--logs']);
    assert.ok(r.ok, `helm test failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /Phase:\s+Succeeded/);
  });

  it('rolls the DaemonSet to a new image tag while a pod keeps asking: no answer carries the node\'s credentials', async (t) => {
    const [repository, tag] = splitRef(world.images.proxy.ref);
    const next = `${tag}-next`;
    await world.tagImage(world.images.proxy.ref, `${repository}:${next}`);
    const loop = world.execInPod('orders', 'reader', ['env', 'LOOP_DURATION_MS=45000', 'LOOP_INTERVAL_MS=50', 'LOOP_MAX=900', 'node', '--input-type=module', '-e', loopScript], 90_000);
    await sleep(3000);
    const upgraded = await world.installChart({ image: { repository, tag: next, pullPolicy: 'Never' } });
    assert.ok(upgraded.ok, `helm upgrade failed: ${upgraded.stderr}`);
    const out = await loop;
    assert.ok(out.ok, out.stderr);
    const answers = JSON.parse(out.stdout) as Answer[];

    const fromNode = answers.filter((a) => a.role === world.account.nodeRoleName || a.keyId === world.account.nodeCredentials.AccessKeyId);
    const ok = answers.filter((a) => a.outcome === 'ok');
    let longestGap = 0;
    for (let i = 1; i < ok.length; i++) longestGap = Math.max(longestGap, ok[i]!.t - ok[i - 1]!.t);
    const failures = answers.filter((a) => a.outcome !== 'ok').map((a) => a.outcome);
    t.diagnostic(`rollout: ${answers.length} requests, ${ok.length} answered with the pod's role, ${fromNode.length} with the node's credentials, ${failures.length} failed (${[...new Set(failures)].join(', ')}), longest gap between answers ${longestGap} ms`);

    assert.equal(fromNode.length, 0);
    assert.ok(ok.every((a) => a.role === managedRoleName({ cluster: DEMO_NAMES.cluster, namespace: 'orders', service: 'reader' })));
    // The loop saw the old proxy and the new one: answers before the upgrade and after the rollout.
    assert.ok(ok.length > 0 && ok.at(-1)!.t > answers[0]!.t + 10_000, 'no answers after the rollout');
    const image = (await world.kubectl(['get', 'daemonset', RELEASE, '-n', RELEASE_NAMESPACE, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).stdout;
    assert.equal(image, `${repository}:${next}`);
  });

  it('leaves no DNAT rule, no podiam object and no proxy process after helm uninstall', async () => {
    const r = await world.helm(['uninstall', RELEASE, '-n', RELEASE_NAMESPACE, '--wait', '--timeout', '90s']);
    assert.ok(r.ok, r.stderr);
    // The DaemonSet's pod goes with the DaemonSet; the proxy removes its rules when it sees it gone.
    const podsLeft = async () => (await world.kubectl(['get', 'pods', '-n', RELEASE_NAMESPACE, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'])).stdout.trim();
    for (let i = 0; i < 60 && (proxyPids().length || /"podiam: /.test(await nodeNat()) || (await podsLeft())); i++) await sleep(500);
    assert.deepEqual(proxyPids(), []);
    // The proxy's rules carry `podiam: …` comments (proxy/src/iptables.ts); the node's own stand-in for
    // kube-proxy (`podiam-node: …`, test/peers/node) stays.
    assert.doesNotMatch(await nodeNat(), /169\.254\.169\.254|"podiam: /);
    const filter = (await world.node.execInNode('iptables-save', ['-t', 'filter'])).stdout;
    assert.doesNotMatch(filter, /"podiam: /);
    const left = await world.kubectl([
      'get',
      'daemonsets,pods,serviceaccounts,services,configmaps,secrets,clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations',
      '-A',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    assert.ok(left.ok, left.stderr);
    assert.equal(left.stdout.trim(), '');
  });
});
