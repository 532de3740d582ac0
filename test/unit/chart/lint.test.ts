// helm lint --strict with the real helm, on the defaults (plus the one required value) and with every optional block on.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { allOptionalValues, chartDir, helm, withValuesFile } from './chart.ts';

describe('helm lint --strict', () => {
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
});
