/**
 * `npm run demo -- --node`: the demo's story on a real node. The chart is installed with
 * `helm upgrade --install`, the kubelet runs the proxy DaemonSet from the image proxy/Dockerfile
 * builds, and application pods in real containers ask 169.254.169.254 with the unmodified AWS SDK
 * for JavaScript v3 and botocore; one pod opts in to token identity and asks 169.254.170.23 with its
 * kubelet-projected token instead. Exit 0 only when each annotated pod got its own role with both
 * SDKs and the unannotated pod got none; everything started is removed on the way out.
 */
import { managedRoleName } from '../core/src/naming.ts';
import { DEMO_NAMES, DEMO_PODS } from './checks.ts';
import { DemoError } from './errors.ts';
import { runDemo, say, secs } from './lifecycle.ts';
import { RELEASE, RELEASE_NAMESPACE, startNodeWorld, type NodeWorld } from './node-world.ts';

let world: NodeWorld | undefined;

interface Row {
  pod: string;
  annotation: string;
  sdk: string;
  got: string;
  ok: boolean;
}

async function main(): Promise<number> {
  say('podiam demo on a real node: moto (AWS), the container images, then kube-apiserver, kubelet and containerd');
  world = await startNodeWorld({ progress: say });
  const w = world;
  const installed = await w.installChart({ tokenIdentity: { enabled: true } });
  if (!installed.ok) throw new DemoError(`helm upgrade --install failed: ${installed.stderr.trim()}`);
  say(`helm upgrade --install ${RELEASE} chart/ -n ${RELEASE_NAMESPACE} --set tokenIdentity.enabled=true: the DaemonSet is Ready, DNAT of 169.254.169.254:80 and 169.254.170.23:80 on ${w.hostInterface}`);

  // One pod takes token identity (the mutating webhook adds its projected token and the SDKs'
  // container-credentials variables); the others ask the metadata path by source IP.
  const TOKEN = { 'podiam.io/token-identity': 'true' };
  const specs = [
    ...DEMO_PODS.map((p) => ({ namespace: p.namespace, name: p.name, role: p.role })),
    { namespace: 'orders', name: 'reader-token', role: 'reader', annotations: TOKEN },
    { namespace: 'orders', name: 'no-annotation', role: '' },
  ];
  const ips = await Promise.all(specs.map((s) => w.createAppPod(s.role ? s : { namespace: s.namespace, name: s.name })));
  say(`pods running: ${specs.map((s, i) => `${s.namespace}/${s.name} (${ips[i]})`).join(', ')}`);

  const rows: Row[] = [];
  for (const s of specs) {
    const expected = s.role ? `assumed-role/${managedRoleName({ cluster: DEMO_NAMES.cluster, namespace: s.namespace, service: s.role })}/` : undefined;
    for (const [sdk, command] of [['JS SDK v3', ['node', '/app/sts-whoami.mjs']], ['botocore', ['python3', '/app/sts_whoami.py']]] as const) {
      const r = await w.execInPod(s.namespace, s.name, [...command]);
      // kubectl exec adds its own "command terminated" line after the client's message.
      const said = r.stderr.trim().split('\n');
      const got = r.ok ? r.stdout.trim() : (said.find((l) => l.startsWith('no identity')) ?? said.at(-1) ?? 'no identity').slice(0, 140);
      const door = 'annotations' in s ? ' via 169.254.170.23 (token)' : '';
      rows.push({ pod: `${s.namespace}/${s.name}`, annotation: s.role || '(none)', sdk: `${sdk}${door}`, got, ok: expected ? r.ok && got.includes(expected) : !r.ok });
    }
  }
  const width = (k: keyof Row) => Math.max(...rows.map((r) => String(r[k]).length), k.length);
  const line = (r: Record<keyof Row, string>) => `  ${r.pod.padEnd(width('pod'))}  ${r.annotation.padEnd(width('annotation'))}  ${r.sdk.padEnd(width('sdk'))}  ${r.ok.padEnd(4)}  ${r.got}`;
  process.stdout.write(`\n${line({ pod: 'pod', annotation: 'annotation', sdk: 'sdk', ok: '', got: 'STS GetCallerIdentity' })}\n`);
  for (const r of rows) process.stdout.write(`${line({ ...r, ok: r.ok ? 'ok' : 'FAIL' })}\n`);
  process.stdout.write('\n');

  const test = await w.helm(['test', RELEASE, '-n', RELEASE_NAMESPACE, '--timeout', '90s']);
  say(`helm test: ${test.ok ? 'passed' : `FAILED: ${test.stderr.trim()}`}`);
  const ok = rows.every((r) => r.ok) && test.ok;
  say(ok ? `every pod got exactly its own role, the unannotated one none (${secs()} s)` : 'MISMATCH: see the rows marked FAIL above');
  return ok ? 0 : 1;
}

runDemo(main, async () => {
  if (!world) return undefined;
  await world.stop();
  return "pods, containers, imported images, the node's network namespace, mounts, cgroups, processes";
});
