// `sam build` of template.yaml, once per content of its inputs, shared by every test file and the
// benchmark that needs the deployable artifacts (node's test runner runs each file in its own process).
// The build runs in the checkout (build_in_source: the Makefile calls scripts/build-function.mjs) and
// writes only to a directory under the OS temp dir named by a hash of the inputs, so a second test file
// (or run) with the same sources reuses it and an edit to any input builds afresh.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool, toolEnv } from '../peers/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The template's functions: logical ID → the folder under functions/. */
export const SHIPPED_FUNCTIONS = { ReconcileFunction: 'reconcile', AdmissionFunction: 'admission', RotateFunction: 'rotate' } as const;
export type FunctionId = keyof typeof SHIPPED_FUNCTIONS;

/** What the artifacts are built from: a change to any of these is a new build. */
const INPUTS = ['template.yaml', 'Makefile', 'samconfig.toml', 'package-lock.json', 'scripts/build-function.mjs', 'scripts/esbuild-options.mjs', 'functions', 'core/src', 'iam-model/src', 'cli/src'];

function listFiles(abs: string, out: string[]): string[] {
  if (!existsSync(abs)) return out;
  // Documentation does not change a build.
  if (statSync(abs).isFile()) {
    if (!abs.endsWith('.md')) out.push(abs);
  }
  else for (const e of readdirSync(abs).sort()) listFiles(path.join(abs, e), out);
  return out;
}

function inputsHash(): string {
  const h = createHash('sha256');
  for (const input of INPUTS) {
    for (const file of listFiles(path.join(repoRoot, input), [])) {
      h.update(path.relative(repoRoot, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return h.digest('hex').slice(0, 20);
}

export interface SamBuild {
  /** The --build-dir: one folder per function (what `sam deploy` zips) and the built template.yaml. */
  dir: string;
  /** The built template (Handler, Runtime and Environment as deployed). */
  template: string;
  /** LAMBDA_TASK_ROOT of a function: its packaged folder. */
  taskRoot(fn: FunctionId): string;
}

let memo: SamBuild | undefined;

/** Builds of other inputs not used for an hour (each use touches its folder) are removed. */
function pruneOldBuilds(keep: string): void {
  const hourAgo = Date.now() - 3600_000;
  for (const e of readdirSync(tmpdir())) {
    const p = path.join(tmpdir(), e);
    if (!/^podiam-sam-build-[0-9a-f]{20}$/.test(e) || p === keep) continue;
    try {
      if (statSync(p).mtimeMs < hourAgo) rmSync(p, { recursive: true, force: true });
    } catch {
      // Another process removed it first.
    }
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Test files start together: one of them builds (holding `<dir>.lock`), the others wait for its result
 * instead of running sam build three times on two cores. A lock older than 10 minutes is stale.
 */
function buildOnce(dir: string, build: () => void): void {
  const lock = `${dir}.lock`;
  for (let i = 0; i < 1200 && !existsSync(path.join(dir, 'template.yaml')); i++) {
    try {
      mkdirSync(lock);
    } catch {
      try {
        if (statSync(lock).mtimeMs < Date.now() - 600_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      sleep(500);
      continue;
    }
    try {
      if (!existsSync(path.join(dir, 'template.yaml'))) build();
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
    return;
  }
}

/** Runs `sam build` unless a build of the same inputs exists; throws with SAM's output when it fails. */
export function samBuild(): SamBuild {
  if (memo) return memo;
  const dir = path.join(tmpdir(), `podiam-sam-build-${inputsHash()}`);
  buildOnce(dir, () => {
    const sam = requireTool('sam');
    const work = `${dir}.${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    const r = spawnSync(sam, ['build', '--build-in-source', '--build-dir', work, '--template', 'template.yaml', '--region', 'us-east-1'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 300_000,
      env: toolEnv({ PATH: `${path.dirname(sam)}:${process.env.PATH ?? ''}` }),
    });
    if (r.status !== 0) {
      rmSync(work, { recursive: true, force: true });
      throw new Error(`sam build failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    }
    // A process that did not see the lock (another checkout) may have finished the same build first.
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true });
    }
  });
  if (!existsSync(path.join(dir, 'template.yaml'))) throw new Error(`sam build: no build in ${dir} after waiting 10 minutes for ${dir}.lock`);
  const now = new Date();
  utimesSync(dir, now, now);
  pruneOldBuilds(dir);
  memo = { dir, template: path.join(dir, 'template.yaml'), taskRoot: (fn) => path.join(dir, fn) };
  return memo;
}
