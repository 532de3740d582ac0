// helm lint --strict, helm package and the kubeVersion constraint, with the real helm.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { allOptionalValues, chartDir, helm, withValuesFile } from './chart.ts';

const execFileAsync = promisify(execFile);

describe('helm lint --strict, package and kubeVersion', () => {
  it('passes with only clusterName set', async () => {
    const r = await helm(['lint', '--strict', chartDir, '--set', 'clusterName=prod-eu']);
    assert.ok(r.ok, r.stdout + r.stderr);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('passes with every optional block on', async () => {
    const r = await withValuesFile(allOptionalValues, (file) => helm(['lint', '--strict', chartDir, '--values', file]));
    assert.ok(r.ok, r.stdout + r.stderr);
  });

  // helm 4's lint reports a failed `required` as a warning, not an error (install and template fail on it).
  it('warns without clusterName, naming it and the fix', async () => {
    const r = await helm(['lint', '--strict', chartDir]);
    assert.match(r.stdout + r.stderr, /clusterName is required: install with --set clusterName=<name>/);
  });

  it('packages with the schema, README and dashboard, and without the README template', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'podiam-chart-package-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const r = await helm(['package', chartDir, '--destination', dir]);
    assert.ok(r.ok, r.stderr);
    const { stdout } = await execFileAsync('tar', ['tzf', path.join(dir, 'podiam-0.1.0.tgz')], { timeout: 20_000 });
    const files = stdout.split('\n').filter(Boolean);
    for (const f of ['podiam/values.schema.json', 'podiam/README.md', 'podiam/dashboards/podiam-proxy.json', 'podiam/templates/tests/test-proxy-answers.yaml']) {
      assert.ok(files.includes(f), `${f} packaged`);
    }
    assert.ok(!files.some((f) => f.endsWith('.gotmpl')), 'README.md.gotmpl left out');
    const lint = await helm(['lint', '--strict', path.join(dir, 'podiam-0.1.0.tgz'), '--set', 'clusterName=prod-eu']);
    assert.ok(lint.ok, lint.stdout + lint.stderr);
  });

  it('refuses Kubernetes older than 1.28 (webhook matchConditions)', async () => {
    const r = await helm(['template', 'podiam', chartDir, '--set', 'clusterName=a', '--kube-version', '1.27.0']);
    assert.equal(r.ok, false);
    assert.match(r.stderr, /chart requires kubeVersion: >=1\.28\.0-0/);
    const ok = await helm(['template', 'podiam', chartDir, '--set', 'clusterName=a', '--kube-version', '1.28.0']);
    assert.ok(ok.ok, ok.stderr);
  });
});
