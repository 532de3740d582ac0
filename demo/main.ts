/**
 * `npm run demo`: the whole flow on one machine, from the policy files to credentials in pods.
 * Exit 0 only when every pod got its own role and every permission check came out as the
 * example policies say; everything started is stopped and removed on the way out, also on
 * failure and on Ctrl-C.
 */
import { managedRoleName } from '../core/src/naming.ts';
import { DEMO_PODS } from './checks.ts';
import { DemoError } from './errors.ts';
import { renderReport, podMatches, type PodRow } from './report.ts';
import { runDemo, say, secs } from './lifecycle.ts';
import { startWorld, type World } from './world.ts';

let world: World | undefined;

async function main(): Promise<number> {
  say('podiam demo: starting moto (AWS), kube-apiserver and the EC2 metadata mock');
  world = await startWorld({ progress: say });
  const w = world;

  const bundle = await w.publish();
  say(`published ${bundle.services.length} policies from policies/ to s3://podiam-demo-bundles (sha256 ${bundle.hash.slice(0, 12)}…)`);
  const result = await w.reconcile(w.bundlePublishedEvent());
  if ('ignored' in result) throw new DemoError(`reconcile ignored the bundle event: ${result.ignored}`);
  say(`reconcile (Lambda handler, run locally): ${JSON.stringify(result.planned)}, ${result.applied} IAM writes, ${result.collisions.length} collisions`);

  await w.startProxy();
  say(`node proxy ready (${w.mode === 'netns' ? 'in the node namespace, iptables DNAT of 169.254.169.254:80 in place' : 'on 127.0.0.1, no iptables'})`);

  const pods = [];
  for (const spec of DEMO_PODS) pods.push({ spec, pod: await w.createPod(spec) });
  await w.waitForIndexed(pods.length);
  say(`created ${pods.map((p) => `${p.spec.namespace}/${p.spec.name} (${p.pod.ip})`).join(', ')} on node demo-node-1`);

  const runs = await Promise.all(pods.map((p) => w.runInPod(p.pod, p.spec.checks)));
  say('pods ran the AWS SDK v3 default credential chain, STS GetCallerIdentity and their checks');
  const rows: PodRow[] = pods.map((p, i) => ({
    pod: p.spec.name,
    namespace: p.spec.namespace,
    annotation: p.spec.role,
    run: runs[i]!,
    expectedArn: new RegExp(`^arn:aws:sts::${w.moto.accountId}:assumed-role/${managedRoleName({ cluster: w.cluster, namespace: p.spec.namespace, service: p.spec.role })}/`),
  }));
  process.stdout.write(`\n${renderReport(rows)}\n\n`);
  const ok = rows.every(podMatches);
  say(ok ? `everything matched the policies (${secs()} s)` : 'MISMATCH: see the rows marked FAIL / NO above');
  return ok ? 0 : 1;
}

if (process.argv.includes('--node')) {
  // The same story on a real node with the chart (demo/node-main.ts).
  await import('./node-main.ts');
} else {
  runDemo(main, async () => {
    if (!world) return undefined;
    await world.stop();
    return world.mode === 'netns' ? 'processes, network namespaces with their iptables rules, temp dirs' : 'processes, temp dirs';
  });
}
