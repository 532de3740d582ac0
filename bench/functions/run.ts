// `npm run bench:functions`: reconcile of 500 services against moto (from empty, then with
// nothing to change): IAM calls by kind and wall time; each function's bundle (`npm run build`)
// size and cold init time in a fresh node process. Prints a Markdown section for docs/benchmarks.md.
// Loopback only: moto on 127.0.0.1; every loop is bounded.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadavg } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Bundle, ServicePolicy } from '../../iam-model/src/bundle/bundle.ts';
import { bundleHash } from '../../iam-model/src/bundle/canonical-json.ts';
import { countCalls } from '../../functions/lib/call-counter.ts';
import { silentLogger } from '../../functions/lib/log.ts';
import { reconcile, type ReconcileDeps } from '../../functions/lib/reconcile.ts';
import { startMoto } from '../../test/peers/index.ts';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SERVICES = Number(process.env.PODIAM_BENCH_SERVICES ?? 500);
const COLD_RUNS = 7;
const FUNCTIONS = ['reconcile', 'admission', 'rotate'];

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

interface InitTimes {
  median: number;
  min: number;
  max: number;
  cpuMedian: number;
}

function coldInit(bundle: string): InitTimes {
  // A fresh process per sample: the time from the start of import() to the module being
  // evaluated (config read, SDK clients built at module scope), as Lambda's Init phase does.
  // CPU time (user+system) is reported beside wall time: on a shared, loaded machine the wall
  // time includes waiting for a core, which a Lambda sandbox does not.
  const script = `const t=performance.now();const c=process.cpuUsage();await import(${JSON.stringify(bundle)});const u=process.cpuUsage(c);process.stdout.write(JSON.stringify([performance.now()-t,(u.user+u.system)/1000]));`;
  const env = {
    PATH: process.env.PATH ?? '',
    PODIAM_CLUSTER_NAME: 'bench',
    PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/podiam-bench-node-proxy',
    PODIAM_BUNDLE_BUCKET: 'bench',
    PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY: 'I-understand-roles-have-no-boundary',
    PODIAM_WEBHOOK_SECRET_SHA256: '0'.repeat(64),
    PODIAM_ACCOUNT_ID: '123456789012',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    // --enable-source-maps as the template's NODE_OPTIONS sets it (it reads the map at load).
    const r = spawnSync(process.execPath, ['--enable-source-maps', '--no-warnings', '--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`cold init of ${bundle} failed: ${r.stderr}`);
    const [w, c] = JSON.parse(r.stdout) as [number, number];
    wall.push(w);
    cpu.push(c);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mid = Math.floor(COLD_RUNS / 2);
  return { median: wall[mid]!, min: wall[0]!, max: wall[wall.length - 1]!, cpuMedian: cpu[mid]! };
}

function bundleBench() {
  execFileSync(process.execPath, [path.join(repo, 'scripts/build.mjs')], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
  return FUNCTIONS.map((name) => {
    const file = path.join(repo, 'dist/functions', name, 'index.mjs');
    if (!existsSync(file)) throw new Error(`${file} is missing after npm run build`);
    const text = readFileSync(file);
    const v2 = /require\(["']aws-sdk["']\)|from ?["']aws-sdk["']/.test(text.toString('utf8'));
    return { name, bytes: statSync(file).size, gzip: gzipSync(text).length, v2, init: coldInit(file) };
  });
}

const rows = await reconcileBench();
const bundles = bundleBench();
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const lines = [
  `## Functions (\`npm run bench:functions\`)`,
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on the 2-core development machine (load average ${loadavg()[0]!.toFixed(1)} while other work ran), Node ${process.version}, moto on loopback.`,
  '',
  `### Reconcile of ${SERVICES} services against moto`,
  '',
  '| run | wall time | IAM calls | writes | calls by kind |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.run} | ${(r.ms / 1000).toFixed(1)} s | ${r.total} | ${r.writes} | ${fmt(r.calls)} |`),
  '',
  '### Bundles (`npm run build`) and cold init in a fresh node process',
  '',
  `Cold init: importing the bundle in a fresh node process (module scope: config, SDK clients, source map), median of ${COLD_RUNS} processes; wall time (min–max) and CPU time. Targets: ≤ 1 MB minified, no aws-sdk v2, init ≤ 300 ms (checked on the CPU time, which the load of this shared machine does not inflate).`,
  '',
  '| function | bundle | gzip | aws-sdk v2 | init wall, median (min–max) | init CPU, median |',
  '| --- | --- | --- | --- | --- | --- |',
  ...bundles.map((b) => `| ${b.name} | ${kb(b.bytes)} | ${kb(b.gzip)} | ${b.v2 ? 'yes' : 'no'} | ${b.init.median.toFixed(0)} ms (${b.init.min.toFixed(0)}–${b.init.max.toFixed(0)}) | ${b.init.cpuMedian.toFixed(0)} ms |`),
];
console.log(lines.join('\n'));
const failed = bundles.filter((b) => b.bytes > 1024 * 1024 || b.v2 || b.init.cpuMedian > 300).map((b) => b.name);
if (rows.slice(1).some((r) => r.writes !== 0)) failed.push('a reconcile with nothing to change made writes');
if (failed.length) {
  console.error(`bench:functions: targets missed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
