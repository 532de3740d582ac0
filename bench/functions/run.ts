// `npm run bench:functions`: reconcile of 500 services against moto (from empty, then with
// nothing to change): IAM calls by kind and wall time; each function's deployable artifact (the
// `sam build` output, test/support/sam-build.ts): its size, its cold init as the Lambda runtime
// reports it (aws-lambda-rie + aws-lambda-ric on Node 24, INIT REPORT durationMs; with and without
// NODE_OPTIONS=--enable-source-maps), and its import time in a fresh Node 24 process.
// Prints a Markdown section for docs/benchmarks.md.
// Loopback only: moto and the emulator on 127.0.0.1; every loop is bounded.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Bundle, ServicePolicy } from '../../iam-model/src/bundle/bundle.ts';
import { bundleHash } from '../../iam-model/src/bundle/canonical-json.ts';
import { countCalls } from '../../functions/lib/call-counter.ts';
import { silentLogger } from '../../functions/lib/log.ts';
import { reconcile, type ReconcileDeps } from '../../functions/lib/reconcile.ts';
import { startMoto } from '../../test/peers/index.ts';
import { lambdaRuntimeTools, startLambdaRuntime } from '../../test/peers/lambda-runtime.ts';
import { deployedFunction, loadBuiltTemplate } from '../../test/support/built-template.ts';
import { samBuild, SHIPPED_FUNCTIONS, type FunctionId } from '../../test/support/sam-build.ts';

const SERVICES = Number(process.env.PODIAM_BENCH_SERVICES ?? 500);
const COLD_RUNS = Number(process.env.PODIAM_BENCH_COLD_RUNS ?? 7);

function bundleOf(n: number): Bundle {
  const services: ServicePolicy[] = [];
  for (let i = 0; i < n; i++) {
    const namespace = `team-${String(Math.floor(i / 10)).padStart(3, '0')}`;
    const service = `svc-${i % 10}`;
    services.push({
      namespace,
      service,
      file: `policies/${namespace}/${service}.json`,
      policy: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: [`arn:aws:s3:::${namespace}-${service}`, `arn:aws:s3:::${namespace}-${service}/*`] },
          { Sid: 'Table', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: `arn:aws:dynamodb:us-east-1:123456789012:table/${namespace}-${service}` },
        ],
      },
      managedPolicyArns: [],
    });
  }
  const guardrails = { deniedActions: [], allowedAccounts: [], limits: { maxInlinePolicyChars: 10240, maxTrustPolicyChars: 2048, maxManagedPolicies: 10 } };
  return { schemaVersion: 1, hash: bundleHash({ guardrails, services }), guardrails, services };
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}

async function reconcileBench() {
  const moto = await startMoto();
  try {
    const common = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 3 };
    const iam = new IAMClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'bundle.json', Body: JSON.stringify(bundleOf(SERVICES)) }));
    const proxy = await iam.send(new CreateRoleCommand({ RoleName: 'podiam-bench-node-proxy', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }));
    const calls = countCalls(iam);
    const deps: ReconcileDeps = {
      iam,
      s3,
      config: { cluster: 'bench', intermediateRoleArns: [proxy.Role!.Arn!], bundleBucket: 'bench', bundleKey: 'bundle.json', stateKey: 'state/bench/intermediate-rotation.json', region: moto.region, awsEndpoint: moto.endpoint, attachableManagedPolicyArns: [] },
      accountId: async () => moto.accountId,
      log: silentLogger,
    };
    const rows: { run: string; ms: number; calls: Record<string, number>; total: number; writes: number }[] = [];
    const runs = [
      { run: 'from empty', strategy: 'bulk' as const },
      { run: 'nothing to change', strategy: 'bulk' as const },
      { run: 'nothing to change, per-role reads (fallback when GetAccountAuthorizationDetails is denied)', strategy: 'per-role' as const },
    ];
    for (const { run, strategy } of runs) {
      calls.reset();
      const t = performance.now();
      const summary = await reconcile({ ...deps, readStrategy: strategy }, { trigger: 'bench' });
      const ms = performance.now() - t;
      rows.push({ run, ms, calls: calls.byName(), total: calls.total(), writes: calls.writes() });
      console.error(`reconcile ${run}: ${ms.toFixed(0)} ms, applied ${summary.applied}, unchanged ${summary.unchanged}`);
    }
    iam.destroy();
    s3.destroy();
    return rows;
  } finally {
    await moto.stop();
  }
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

const ms = (x: Spread) => `${x.median.toFixed(0)} ms (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;

// The stack as the functions would be deployed; nothing is called at init (the account is configured,
// and the invoke below is one each function answers without AWS).
const STACK = {
  ClusterName: 'bench',
  IntermediateRoleArns: ['arn:aws:iam::123456789012:role/podiam-bench-node-proxy'],
  AllowNoPermissionsBoundary: 'I-understand-roles-have-no-boundary',
  BundleBucket: 'bench',
  WebhookSecretSha256: '0'.repeat(64),
  'ReconcileFunction.Arn': 'arn:aws:lambda:us-east-1:123456789012:function:bench-ReconcileFunction',
  'ReconcileFunctionRole.Arn': 'arn:aws:iam::123456789012:role/bench-ReconcileFunctionRole',
};
const LAMBDA_ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  PODIAM_ACCOUNT_ID: '123456789012',
  PODIAM_AWS_ENDPOINT: 'http://127.0.0.1:9',
};
const QUICK_EVENT: Record<FunctionId, unknown> = {
  ReconcileFunction: { source: 'bench', 'detail-type': 'not for reconcile' },
  AdmissionFunction: { version: '2.0', rawPath: '/health', requestContext: { http: { method: 'GET', path: '/health' } }, headers: {}, isBase64Encoded: false },
  RotateFunction: { detail: { cluster: 'bench', action: 'not-an-action' } },
};

interface ColdStarts {
  /** The runtime's INIT REPORT (wall clock). */
  init: Spread;
  /** CPU time of the Node runtime process after the first invocation. */
  cpu: Spread;
}

/** One cold start in the emulator: a new runtime, one invocation, the runtime's Init report and its CPU time. */
async function coldStart(taskRoot: string, handler: string, runtime: string, env: Record<string, string>, event: unknown): Promise<[number, number]> {
  const rt = await startLambdaRuntime({ taskRoot, handler, runtime, env, timeoutSeconds: 30 });
  try {
    const res = await rt.invoke(event);
    if (res.status !== 200) throw new Error(`invoke answered ${res.status}: ${res.body}\n${rt.output()}`);
    const init = rt.initDurationMs();
    const cpu = rt.runtimeCpuMs();
    if (init === undefined || cpu === undefined) throw new Error(`no INIT REPORT or no runtime process:\n${rt.output()}`);
    return [init, cpu];
  } finally {
    await rt.stop();
  }
}

/** COLD_RUNS cold starts of each variant, alternating between them so that a change in the machine's load hits all alike. */
async function coldStarts(variants: { env: Record<string, string> }[], taskRoot: string, handler: string, runtime: string, event: unknown): Promise<ColdStarts[]> {
  const samples = variants.map(() => ({ init: [] as number[], cpu: [] as number[] }));
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const [v, variant] of variants.entries()) {
      const [init, cpu] = await coldStart(taskRoot, handler, runtime, variant.env, event);
      samples[v]!.init.push(init);
      samples[v]!.cpu.push(cpu);
    }
  }
  return samples.map((x) => ({ init: spread(x.init), cpu: spread(x.cpu) }));
}

/** Today's in-process figure: import() of the bundle in a fresh Node 24 process (module scope only). */
function importInit(bundle: string, env: Record<string, string>, sourceMaps: boolean): { wall: Spread; cpu: Spread } {
  const script = `const t=performance.now();const c=process.cpuUsage();await import(${JSON.stringify(bundle)});const u=process.cpuUsage(c);process.stdout.write(JSON.stringify([performance.now()-t,(u.user+u.system)/1000]));`;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const args = [...(sourceMaps ? ['--enable-source-maps'] : []), '--no-warnings', '--input-type=module', '-e', script];
    const r = spawnSync(lambdaRuntimeTools.node24, args, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`import of ${bundle} failed: ${r.stderr}`);
    const [w, c] = JSON.parse(r.stdout) as [number, number];
    wall.push(w);
    cpu.push(c);
  }
  return { wall: spread(wall), cpu: spread(cpu) };
}

async function artifactBench() {
  const build = samBuild();
  const template = loadBuiltTemplate(build.template);
  // The runtime's own share: Node 24 and aws-lambda-ric loading a handler that does nothing.
  const empty = mkdtempSync(path.join(tmpdir(), 'podiam-bench-empty-'));
  writeFileSync(path.join(empty, 'handler.mjs'), 'export const handler = async () => ({});\n');
  const [baseline] = await coldStarts([{ env: {} }], empty, 'handler.handler', 'nodejs24.x', {});
  rmSync(empty, { recursive: true, force: true });
  const rows = [];
  for (const fn of Object.keys(SHIPPED_FUNCTIONS) as FunctionId[]) {
    const d = deployedFunction(template, fn, STACK);
    const bundle = path.join(build.taskRoot(fn), 'handler.mjs');
    const text = readFileSync(bundle);
    const env: Record<string, string> = { ...d.env, ...LAMBDA_ENV };
    const { NODE_OPTIONS: _shippedOptions, ...noMaps } = env;
    console.error(`cold starts of ${fn} in the emulator (${COLD_RUNS} each, with and without --enable-source-maps)`);
    rows.push({
      fn,
      bytes: statSync(bundle).size,
      mapBytes: statSync(`${bundle}.map`).size,
      gzip: gzipSync(text).length,
      v2: /require\(["']aws-sdk["']\)|from ?["']aws-sdk["']/.test(text.toString('utf8')),
      nodeOptions: d.env.NODE_OPTIONS ?? '',
      ...(await coldStarts([{ env }, { env: noMaps }], build.taskRoot(fn), d.handler, d.runtime, QUICK_EVENT[fn]).then(([shipped, withoutMaps]) => ({ shipped: shipped!, withoutMaps: withoutMaps! }))),
      imported: importInit(bundle, env, (d.env.NODE_OPTIONS ?? '').includes('--enable-source-maps')),
    });
  }
  return { baseline, rows };
}

const rows = process.env.PODIAM_BENCH_SKIP_RECONCILE === '1' ? [] : await reconcileBench();
const { baseline, rows: artifacts } = await artifactBench();
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const lines = [
  `## Functions (\`npm run bench:functions\`)`,
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on the 2-core development machine (load average ${loadavg()[0]!.toFixed(1)} at the start), moto on loopback; the artifacts run on Node ${spawnSync(lambdaRuntimeTools.node24, ['--version'], { encoding: 'utf8' }).stdout.trim()} (scripts/peers/install-node-runtime.sh).`,
  '',
  `### Reconcile of ${SERVICES} services against moto`,
  '',
  '| run | wall time | IAM calls | writes | calls by kind |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.run} | ${(r.ms / 1000).toFixed(1)} s | ${r.total} | ${r.writes} | ${fmt(r.calls)} |`),
  '',
  '### Shipped artifacts (`sam build`) and their cold start in the Lambda runtime',
  '',
  `Each function's \`sam build\` folder run by the Runtime Interface Emulator with aws-lambda-ric on Node 24, configured from the built template (Handler, Environment). One fresh runtime per sample and one invocation (an event each function answers without calling AWS); ${COLD_RUNS} samples per variant, the variants alternating; median (min–max). Init: the runtime's \`INIT REPORT(durationMs)\`, wall clock: Node start, aws-lambda-ric, and the handler module's import with its module scope (config, SDK clients). CPU: user + system time of the runtime's Node process after that first invocation (init plus one short invocation), which the load of this shared machine inflates far less. "as shipped" keeps the template's NODE_OPTIONS (\`${artifacts[0]?.nodeOptions ?? ''}\`); "no source maps" runs without it. In-process: \`import()\` of the same bundle in a fresh Node 24 process, the figure this benchmark gave before (wall and CPU). Targets: bundle ≤ 1 MB, no aws-sdk v2, init ≤ 300 ms.`,
  '',
  `The runtime alone (aws-lambda-ric loading a handler that does nothing): init ${ms(baseline!.init)}, CPU ${ms(baseline!.cpu)}.`,
  '',
  '| function | bundle | gzip | source map | aws-sdk v2 | init as shipped | init, no source maps | CPU as shipped | CPU, no source maps | in-process import, wall | in-process import, CPU |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...artifacts.map((b) => `| ${b.fn} | ${kb(b.bytes)} | ${kb(b.gzip)} | ${kb(b.mapBytes)} | ${b.v2 ? 'yes' : 'no'} | ${ms(b.shipped.init)} | ${ms(b.withoutMaps.init)} | ${ms(b.shipped.cpu)} | ${ms(b.withoutMaps.cpu)} | ${ms(b.imported.wall)} | ${ms(b.imported.cpu)} |`),
];
console.log(lines.join('\n'));
// The init target is checked on the runtime's CPU time: its wall-clock report on this loaded machine
// includes waiting for a core, which a Lambda sandbox does not.
const failed: string[] = artifacts.filter((b) => b.bytes > 1024 * 1024 || b.v2 || b.shipped.cpu.median > 300).map((b) => `${b.fn}${b.shipped.cpu.median > 300 ? ` (init CPU ${b.shipped.cpu.median} ms)` : ''}`);
if (rows.slice(1).some((r) => r.writes !== 0)) failed.push('a reconcile with nothing to change made writes');
if (failed.length) {
  console.error(`bench:functions: targets missed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
