// The checker of deployable artifacts (test/support/shipped-licences.ts) against small trees made here:
// it must see GPL/AGPL code and aws-sdk v2 in every form a bundle can carry them, and pass a clean tree.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { shippedLicenceFindings } from '../../support/shipped-licences.ts';

const base = mkdtempSync(path.join(tmpdir(), 'podiam-licences-'));
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** A tree of files under a fresh directory; returns its root. */
function tree(files: Record<string, string>): string {
  const root = path.join(base, String(++n));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

// Bundled packages' package.json files, as the checkout's node_modules would have them.
const packages = tree({
  'mit-lib/package.json': JSON.stringify({ name: 'mit-lib', license: 'MIT' }),
  'lgpl-lib/package.json': JSON.stringify({ name: 'lgpl-lib', license: 'LGPL-3.0' }),
  'gpl-lib/package.json': JSON.stringify({ name: 'gpl-lib', license: 'GPL-3.0-or-later' }),
  '@scope/agpl-lib/package.json': JSON.stringify({ name: '@scope/agpl-lib', license: 'AGPL-3.0-only' }),
});
const opts = { packageRoots: [packages] };
const map = (...sources: string[]) => JSON.stringify({ version: 3, sources, mappings: '' });

describe('shipped licence check', () => {
  it('passes a bundle of MIT and LGPL packages with an Apache licence banner', () => {
    const root = tree({
      'handler.mjs': '/*! Apache-2.0 */ import{S3Client as a}from"@aws-sdk/client-s3";export{a as handler};',
      'handler.mjs.map': map('../node_modules/mit-lib/index.js', '../node_modules/lgpl-lib/index.js', '../functions/x.ts'),
    });

    assert.deepEqual(shippedLicenceFindings(root, opts), []);
  });

  it('finds a package licensed GPL through the source map', () => {
    const root = tree({ 'handler.mjs': 'export const handler=1;', 'handler.mjs.map': map('../node_modules/mit-lib/a.js', '../node_modules/gpl-lib/lib/a.js') });

    const found = shippedLicenceFindings(root, opts);

    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0]!.problem, /gpl-lib, licensed GPL-3\.0-or-later/);
  });

  it('finds a scoped AGPL package named by an esbuild metafile', () => {
    const root = tree({ 'handler.mjs': 'export const handler=1;', 'handler.meta.json': JSON.stringify({ inputs: { 'node_modules/@scope/agpl-lib/index.js': {} } }) });

    assert.match(shippedLicenceFindings(root, opts)[0]?.problem ?? '', /@scope\/agpl-lib, licensed AGPL-3\.0-only/);
  });

  it('finds a GPL licence comment esbuild kept in the bundle and in its LEGAL.txt', () => {
    const root = tree({
      'handler.mjs': '/*! some-lib | GNU General Public License v3 */export const handler=1;',
      'handler.mjs.LEGAL.txt': 'Bundled license information:\n\nother-lib/index.js:\n  (*! @license GPL-2.0 *)\n',
    });

    const files = shippedLicenceFindings(root, opts).map((f) => f.file).sort();

    assert.deepEqual(files, ['handler.mjs', 'handler.mjs.LEGAL.txt']);
  });

  it('finds aws-sdk v2 loaded by require(), import or a dynamic import()', () => {
    for (const code of ['const A=require("aws-sdk");', 'import A from"aws-sdk";', 'const s3=await import("aws-sdk/clients/s3");']) {
      const found = shippedLicenceFindings(tree({ 'index.js': code }), opts);

      assert.match(found[0]?.problem ?? '', /aws-sdk/, code);
    }
  });

  it('finds aws-sdk v2 in a shipped node_modules and in an unminified bundle\'s module comments', () => {
    const app = tree({ 'node_modules/aws-sdk/package.json': JSON.stringify({ name: 'aws-sdk', license: 'Apache-2.0' }) });
    const bundle = tree({ 'main.mjs': '// node_modules/aws-sdk/lib/core.js\nvar x=1;\n' });

    assert.match(shippedLicenceFindings(app, opts)[0]?.problem ?? '', /aws-sdk package/);
    assert.match(shippedLicenceFindings(bundle, opts)[0]?.problem ?? '', /bundles aws-sdk/);
  });

  it('reports a bundled package whose licence it cannot look up', () => {
    const root = tree({ 'handler.mjs.map': map('../node_modules/not-installed/x.js') });

    assert.match(shippedLicenceFindings(root, opts)[0]?.problem ?? '', /not-installed.*licence is unknown/);
  });
});
