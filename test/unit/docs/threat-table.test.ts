// docs/security.md's threat table is only worth what its tests are: every row must name at least
// one test file, and every test file it names must exist, so a renamed or deleted test shows here.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { read, repoRoot } from './sources.ts';

const HEADING = '## Threats, controls and the tests that prove them';

interface Row {
  threat: string;
  lastCell: string;
  tests: string[];
}

/** The table rows under the heading: their first cell and the test files named in their last. */
export function threatRows(doc: string): Row[] {
  const start = doc.indexOf(HEADING);
  if (start === -1) return [];
  const rows: Row[] = [];
  for (const line of doc.slice(start).split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| threat |')) continue;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const last = cells.at(-1) ?? '';
    rows.push({ threat: cells[0] ?? '', lastCell: last, tests: [...last.matchAll(/test\/[\w./-]+\.(?:test\.)?(?:ts|mjs|py)/g)].map((m) => m[0]) });
  }
  return rows;
}

describe('the threat table of docs/security.md', () => {
  const rows = threatRows(read('docs/security.md'));

  it('has rows', () => {
    assert.ok(rows.length >= 30, `${rows.length} rows`);
  });

  it('names a test file in every row, or says why there is none', () => {
    assert.deepEqual(rows.filter((r) => r.tests.length === 0 && !/^none \(.{10,}\)$/.test(r.lastCell)).map((r) => r.threat.slice(0, 80)), []);
  });

  it('names only test files that exist', () => {
    const missing = rows.flatMap((r) => r.tests).filter((t) => !existsSync(path.join(repoRoot, t)));
    assert.deepEqual([...new Set(missing)], []);
  });

  it('reports a row whose test file is gone', () => {
    const doc = `${HEADING}\n\n| threat | who | control | test |\n|---|---|---|---|\n| x | y | z | test/unit/docs/no-such.test.ts |\n`;
    const [row] = threatRows(doc);
    assert.deepEqual(row?.tests, ['test/unit/docs/no-such.test.ts']);
    assert.equal(existsSync(path.join(repoRoot, row!.tests[0]!)), false);
  });
});
