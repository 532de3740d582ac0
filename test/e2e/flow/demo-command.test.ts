// `npm run demo`'s program as a user runs it: it must exit 0 with the report, print no secret,
// and leave nothing behind (its network namespaces carry its pid).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../../demo/world.ts';

const run = promisify(execFile);

function runDemo(): Promise<{ code: number | null; pid: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=NodeVersionSupportWarning', '--import', 'tsx', path.join(repoRoot, 'demo/main.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // Bounded: a demo that hangs is killed (and then fails the test).
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, pid: child.pid!, out });
    });
  });
}

describe('npm run demo', () => {
  it('exits 0 with a report row per pod, prints no secret, and leaves no network namespace behind', async (t) => {
    const { code, pid, out } = await runDemo();

    assert.equal(code, 0, out);
    assert.match(out, /reader-7d9c5\s+orders\s+iam\.amazonaws\.com\/role: reader\s+arn:aws:sts::123456789012:assumed-role\/demo.orders.reader\/orders\.reader-7d9c5 \(…\w{4}\)\s+1\s+3\s+yes/);
    assert.match(out, /ledger-5f2b8\s+orders\s+iam\.amazonaws\.com\/role: ledger\s+arn:aws:sts::123456789012:assumed-role\/demo.orders.ledger\/orders\.ledger-5f2b8 \(…\w{4}\)\s+2\s+2\s+yes/);
    assert.match(out, /everything matched the policies/);
    assert.match(out, /cleaned up/);
    // Access key IDs (AKIA…/ASIA… + 16) appear only as their last four characters; no secret key or token at all.
    assert.doesNotMatch(out, /\b(AKIA|ASIA)[A-Z0-9]{16}\b/);
    assert.doesNotMatch(out, /SecretAccessKey|SessionToken|"Token"/);
    // Without root the demo runs on loopback and makes no namespace: a real skip, so CI notices.
    await t.test('left no network namespace behind', { skip: process.getuid?.() !== 0 && 'PODIAM_SKIP: needs root (the demo makes network namespaces only as root)' }, async () => {
      const { stdout } = await run('ip', ['netns', 'list'], { timeout: 10_000 });
      assert.doesNotMatch(stdout, new RegExp(`^pdmd${pid % 100000}-`, 'm'));
    });
  });
});
