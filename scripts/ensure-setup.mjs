// Brings a fresh checkout to a runnable state with nothing but Node and npm:
// installs node_modules from the lockfile when missing or stale, then (optionally) the test peers.
// Plain ESM with no dependencies, because it runs before `npm ci`.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`podiam setup: '${cmd} ${args.join(' ')}' failed with exit code ${r.status}; see the output above.`);
    process.exit(r.status ?? 1);
  }
}

export function ensureNodeModules() {
  const lock = readFileSync(path.join(repoRoot, 'package-lock.json'));
  const want = createHash('sha256').update(lock).digest('hex');
  const stamp = path.join(repoRoot, 'node_modules', '.podiam-lock-sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  console.log('podiam setup: installing node_modules from package-lock.json (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  writeFileSync(stamp, want);
}

/** Installs (or finds cached) every test peer; idempotent and cached outside the repository. */
export function ensurePeers() {
  if (existsSync(path.join(repoRoot, 'scripts/peers/install.sh'))) {
    run('bash', ['scripts/peers/install.sh']);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureNodeModules();
  if (process.argv.includes('--peers')) ensurePeers();
}
