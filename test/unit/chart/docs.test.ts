// chart/README.md's values table is generated from values.yaml by helm-docs (pinned, built by
// scripts/peers/install-chart-tools.sh); these tests fail when the two drift apart or a key is undocumented.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { cacheDir } from '../../peers/tools.ts';
import { chartDir, repoRoot } from './chart.ts';

const execFileAsync = promisify(execFile);
const helmDocs = path.join(cacheDir, 'bin', 'helm-docs');

async function generate(chartCopyParent: string): Promise<string> {
  await execFileAsync(
    helmDocs,
    ['--log-level', 'warning', '--chart-search-root', 'chart', '--template-files', 'README.md.gotmpl', '--sort-values-order', 'file'],
    { cwd: chartCopyParent, timeout: 60_000 },
  );
  return readFileSync(path.join(chartCopyParent, 'chart', 'README.md'), 'utf8');
}

function copyChart(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'podiam-chart-docs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(chartDir, path.join(dir, 'chart'), { recursive: true });
  return dir;
}

/** Rows of the generated values table: key -> description. */
function valuesTable(readme: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const m = /^\| ([\w.[\]-]+) \| (\w+) \| (.*) \| (.*) \|$/.exec(line);
    if (m && m[1] !== 'Key') rows.set(m[1]!, m[4]!.trim());
  }
  return rows;
}

describe('chart README values table', () => {
  it('is what helm-docs generates from the current values.yaml', async () => {
    const generated = await generate(copyChart());
    const committed = readFileSync(path.join(chartDir, 'README.md'), 'utf8');
    assert.equal(committed, generated, 'chart/README.md is out of date: run bash scripts/chart-docs.sh');
  });

  it('changes when a comment in values.yaml changes, so the check can catch drift', async () => {
    const dir = copyChart();
    const valuesFile = path.join(dir, 'chart', 'values.yaml');
    const text = readFileSync(valuesFile, 'utf8');
    writeFileSync(valuesFile, text.replace('# -- Proxy image repository.', '# -- Proxy image repository (edited).'));
    const generated = await generate(dir);
    assert.notEqual(generated, readFileSync(path.join(chartDir, 'README.md'), 'utf8'));
    assert.match(generated, /Proxy image repository \(edited\)\./);
  });

  it('has a described row for every value', () => {
    const rows = valuesTable(readFileSync(path.join(chartDir, 'README.md'), 'utf8'));
    const values = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const missing: string[] = [];
    // A key is documented by its own row or, for a group such as `image`, by rows for its keys.
    const walk = (obj: Record<string, unknown>, prefix: string): void => {
      for (const [k, v] of Object.entries(obj)) {
        const key = prefix + k;
        if (rows.has(key)) continue;
        if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) walk(v as Record<string, unknown>, `${key}.`);
        else missing.push(key);
      }
    };
    walk(values, '');
    assert.deepEqual(missing, [], 'values without a `# --` comment');
    const undescribed = [...rows].filter(([, d]) => d === '').map(([k]) => k);
    assert.deepEqual(undescribed, []);
    assert.ok(rows.size >= 60, `the table has ${rows.size} rows`);
  });

  it('is kept in sync by scripts/chart-docs.sh --check', async () => {
    const { stdout, stderr } = await execFileAsync('bash', [path.join(repoRoot, 'scripts/chart-docs.sh'), '--check'], { timeout: 60_000 });
    assert.equal(`${stdout}${stderr}`.includes('out of date'), false);
  });
});
