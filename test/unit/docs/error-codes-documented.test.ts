// Every PODIAM_* code that the shipped code can emit (core/, proxy/src/, functions/, cli/src/) is
// explained in docs/troubleshooting.md — or, for the policy checker's findings, in the table of
// policies/README.md, which troubleshooting.md links to. A new code without an entry fails here,
// named, with the files that use it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from '../../../core/src/errors.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findingCodesIn, isTestOnlyCode, podiamLiterals, read, repoRoot, settingNames, shippedSourceFiles } from './sources.ts';

const TROUBLESHOOTING = 'docs/troubleshooting.md';
const FINDINGS_DOC = 'policies/README.md';

interface Inventory {
  codes: Map<string, string[]>;
  settings: Set<string>;
}

async function inventory(): Promise<Inventory> {
  const settings = await settingNames();
  const codes = new Map<string, string[]>();
  for (const [name, files] of podiamLiterals()) {
    if (settings.has(name) || isTestOnlyCode(name)) continue;
    codes.set(name, files);
  }
  // The tables are the contract even if a code is not thrown anywhere yet.
  for (const name of Object.keys(errorCodes)) {
    if (!codes.has(name)) codes.set(name, ['core/src/errors.ts']);
  }
  return { codes, settings };
}

/** Codes that neither document explains; pure, so the test below can show it catches a gap. */
function undocumented(codes: Iterable<string>, troubleshooting: string, findingsDoc: string): string[] {
  const findings = findingCodesIn(findingsDoc);
  const linksFindings = troubleshooting.includes('../policies/README.md');
  return [...codes]
    // In backticks: the whole code, so PODIAM_ROLE_NAME_INVALID does not document PODIAM_ROLE_NAME.
    .filter((code) => !troubleshooting.includes(`\`${code}\``))
    .filter((code) => !(code.startsWith('PODIAM_CHECK_') && linksFindings && findings.has(code)))
    .sort();
}

/** Codes of the table that no shipped file other than the table itself names: dead entries. */
function unused(table: Iterable<string>, literals: Map<string, string[]>, tableFile = read('core/src/errors.ts')): string[] {
  // A code thrown by a class of the table's own file (ConfigError) names it in quotes (the table's keys are bare).
  const usedBesideTable = (code: string) => tableFile.includes(`'${code}'`);
  return [...table].filter((code) => !usedBesideTable(code) && !(literals.get(code) ?? []).some((file) => file !== 'core/src/errors.ts')).sort();
}

describe('error codes are documented', () => {
  it('uses every code of the one table (core/src/errors.ts) somewhere in the shipped code', () => {
    assert.deepEqual(unused(Object.keys(errorCodes), podiamLiterals()), [], 'remove the entry, or throw the code where it applies');
  });

  it('reports a table code that no shipped file uses', () => {
    const literals = podiamLiterals();
    literals.set('PODIAM_NO_ROLE', ['core/src/errors.ts']);
    assert.deepEqual(unused(['PODIAM_NO_ROLE', 'PODIAM_STS_FAILED'], literals), ['PODIAM_NO_ROLE']);
  });

  it('keeps one table: no other file defines a table of PODIAM_ codes', () => {
    const tables = shippedSourceFiles()
      .filter((file) => /^\s+PODIAM_[A-Z0-9_]+: \{ (status|exit):/m.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(repoRoot, file));
    assert.deepEqual(tables, ['core/src/errors.ts']);
  });

  it('finds the codes of every part, and tells them from settings', async () => {
    const { codes, settings } = await inventory();
    for (const sample of ['PODIAM_NO_ROLE', 'PODIAM_ROLE_NOT_IN_BUNDLE', 'PODIAM_CLI_USAGE', 'PODIAM_CHECK_SCHEMA', 'PODIAM_CONFIG_INVALID']) {
      assert.ok(codes.has(sample), `the scan should find ${sample}`);
    }
    for (const setting of ['PODIAM_HOST_INTERFACE', 'PODIAM_WEBHOOK_SECRET', 'PODIAM_BUNDLE_BUCKET']) {
      assert.ok(settings.has(setting) && !codes.has(setting), `${setting} is a setting, not a code`);
    }
  });

  it(`explains every code in ${TROUBLESHOOTING} (finding codes may be in ${FINDINGS_DOC}'s table)`, async () => {
    const { codes } = await inventory();
    const missing = undocumented(codes.keys(), read(TROUBLESHOOTING), read(FINDINGS_DOC));
    assert.deepEqual(
      missing.map((code) => `${code} (used in ${codes.get(code)!.join(', ')})`),
      [],
      `add an entry (the code in backticks, what it means, what to do) to ${TROUBLESHOOTING} for each`,
    );
  });

  it('reports a code whose entry is removed', async () => {
    const { codes } = await inventory();
    const doc = read(TROUBLESHOOTING);
    const without = doc.split('\n').filter((line) => !line.includes('`PODIAM_POD_IP_CONFLICT`')).join('\n');
    assert.deepEqual(undocumented(['PODIAM_POD_IP_CONFLICT'], without, read(FINDINGS_DOC)), ['PODIAM_POD_IP_CONFLICT']);
    assert.ok(undocumented(codes.keys(), without, read(FINDINGS_DOC)).includes('PODIAM_POD_IP_CONFLICT'));
  });

  it('reports a finding code when the link to the findings table is gone', () => {
    const doc = read(TROUBLESHOOTING).replaceAll('../policies/README.md', 'elsewhere');
    const onlyInFindings = [...findingCodesIn(read(FINDINGS_DOC))].filter((c) => !doc.includes(`\`${c}\``));
    if (onlyInFindings.length === 0) return;
    assert.deepEqual(undocumented(onlyInFindings, doc, read(FINDINGS_DOC)), [...onlyInFindings].sort());
  });
});
