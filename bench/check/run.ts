// `npm run bench:check`: `podiam check` on 1,000 generated policy files (target: under 5 s).
// Generates realistic files (S3, DynamoDB, SQS, SNS, Route53; wrapper and plain forms; conditions
// and expect cases) in a temp dir, runs the real CLI (bin/podiam.js) in a fresh process three
// times, and prints the wall times. Cleans up the temp dir.
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { cliBundleOptions } from '../../scripts/esbuild-options.mjs';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '../..');
const FILES = Number(process.env.BENCH_FILES ?? 1000);
const RUNS = 3;
const ACCOUNT = '123456789012';

function policyFor(i: number): unknown {
  const bucket = `acme-data-${i}`;
  const table = `acme-table-${i}`;
  const statements = [
    { Sid: 'ListBucket', Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': ['reports/*', 'exports/*'] } } },
    { Sid: 'ReadWriteObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:GetObjectVersion'], Resource: `arn:aws:s3:::${bucket}/*` },
    { Sid: 'Table', Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'], Resource: [`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${table}`, `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${table}/index/*`] },
    { Sid: 'Queue', Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'], Resource: `arn:aws:sqs:us-east-1:${ACCOUNT}:acme-queue-${i}` },
    { Sid: 'Topic', Effect: 'Allow', Action: 'sns:Publish', Resource: `arn:aws:sns:us-east-1:${ACCOUNT}:acme-topic-${i}`, Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
    { Sid: 'Dns', Effect: 'Allow', Action: ['route53:ChangeResourceRecordSets'], Resource: `arn:aws:route53:::hostedzone/Z${String(i).padStart(12, '0')}` },
    { Sid: 'Describe', Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeRegions'], Resource: '*' },
  ];
  const policy = { Version: '2012-10-17', Statement: statements.slice(0, 3 + (i % 5)) };
  if (i % 3 === 0) return policy;
  return {
    description: `Service ${i}`,
    owners: [`team-${i % 17}@example.com`],
    policy,
    expect: {
      allow: [{ action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/reports/a.csv` }],
      deny: [{ action: 's3:DeleteObject', resource: `arn:aws:s3:::${bucket}/reports/a.csv` }, { action: 'dynamodb:DeleteTable', resource: `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${table}` }],
    },
  };
}

const dir = mkdtempSync(path.join(tmpdir(), 'podiam-bench-check-'));
try {
  const root = path.join(dir, 'policies');
  mkdirSync(root);
  copyFileSync(path.join(repo, 'policies/guardrails.json'), path.join(root, 'guardrails.json'));
  for (let i = 0; i < FILES; i++) {
    const ns = path.join(root, `team-${Math.floor(i / 10)}`);
    mkdirSync(ns, { recursive: true });
    writeFileSync(path.join(ns, `svc-${i % 10}.json`), `${JSON.stringify(policyFor(i), null, 2)}\n`);
  }
  // Both ways bin/podiam.js runs the CLI: the esbuild bundle (built here, fresh, with the options of
  // scripts/build.mjs, under .cache/ so it resolves node_modules as dist/ does) and the source through tsx.
  const bundleDir = path.join(repo, '.cache/bench-check');
  await build({
    entryPoints: [{ in: path.join(repo, 'cli/src/main.ts'), out: 'podiam' }],
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    ...cliBundleOptions,
  });
  const modes: Array<{ name: string; entry: string; env: NodeJS.ProcessEnv }> = [
    { name: 'esbuild bundle', entry: path.join(bundleDir, 'podiam.mjs'), env: {} },
    { name: 'source through tsx (bin/podiam.js)', entry: path.join(repo, 'bin/podiam.js'), env: { PODIAM_CLI_FROM_SOURCE: '1' } },
  ];
  console.log(`podiam check, ${FILES} files, fresh process each run (node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}):`);
  let worstBest = 0;
  for (const mode of modes) {
    const times: number[] = [];
    const summaries: string[] = [];
    for (let r = 0; r < RUNS; r++) {
      const started = process.hrtime.bigint();
      const out = spawnSync(process.execPath, [mode.entry, 'check', root], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...mode.env } });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (out.status !== 0) {
        console.error(out.stdout.slice(-3000), out.stderr);
        throw new Error(`podiam check exited ${out.status} on generated files; the generator or the checker is wrong`);
      }
      summaries.push(out.stdout.trim().split('\n').at(-1) ?? '');
    }
    const best = Math.min(...times);
    worstBest = Math.max(worstBest, best);
    console.log(`  ${mode.name}: ${times.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')}; best ${(best / 1000).toFixed(2)} s (target < 5 s)`);
    console.log(`    best run: ${summaries[times.indexOf(best)]}`);
  }
  process.exitCode = worstBest < 5000 ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
