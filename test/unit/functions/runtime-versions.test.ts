// One Node major ships everywhere: template.yaml's Runtime, every esbuild target, the proxy image's base
// images (build stage and distroless runtime), package.json's engines, and the Node the tests run the
// shipped bundles with (scripts/peers/install-node-runtime.sh). Node 20 is past end of life (2026-04-30).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cliBundleOptions, functionBundleOptions, nodeBundleOptions, SHIPPED_NODE_MAJOR } from '../../../scripts/esbuild-options.mjs';
import { SHIPPED_NODE_MAJOR as TEST_NODE_MAJOR } from '../../peers/shipped-node.ts';
import { parseDockerfile } from '../chart/dockerfile.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const read = (p: string) => readFileSync(path.join(repo, p), 'utf8');

/** Releases with active or maintenance LTS support on this project's clock (Node 20 ended 2026-04-30). */
const SUPPORTED_LTS = [22, 24];

describe('the shipped Node major', () => {
  it('is a supported LTS release', () => {
    assert.ok(SUPPORTED_LTS.includes(SHIPPED_NODE_MAJOR), `Node ${SHIPPED_NODE_MAJOR}`);
  });

  it('is the Runtime of every function in template.yaml', () => {
    const runtimes = [...read('template.yaml').matchAll(/^\s*Runtime:\s*(\S+)/gm)].map((m) => m[1]);

    assert.ok(runtimes.length > 0, 'template.yaml names a Runtime');
    assert.deepEqual([...new Set(runtimes)], [`nodejs${SHIPPED_NODE_MAJOR}.x`]);
  });

  it('is the target of every esbuild bundle: proxy, CLI and functions', () => {
    for (const [name, o] of Object.entries({ nodeBundleOptions, cliBundleOptions, functionBundleOptions })) {
      assert.equal(o.target, `node${SHIPPED_NODE_MAJOR}`, name);
    }
    assert.doesNotMatch(read('scripts/build.mjs') + read('scripts/build-function.mjs'), /target:\s*['"]node\d+/, 'no build script overrides the target');
  });

  it("is the Node of the proxy image's build stage and runtime image", () => {
    const froms = parseDockerfile(read('proxy/Dockerfile')).map((s) => s.from);
    const nodeImages = froms.filter((f) => /(^|\/)node(js)?[:\d]/.test(f) || /distroless\/nodejs/.test(f));

    assert.ok(nodeImages.length >= 2, `a Node build stage and a Node runtime image: ${froms.join(', ')}`);
    for (const image of nodeImages) {
      const major = /node(?:js)?:?(\d+)/.exec(image.replace(/^.*\//, ''))?.[1];
      assert.equal(Number(major), SHIPPED_NODE_MAJOR, image);
    }
  });

  it("is package.json's engines minimum", () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;

    assert.equal(Number(/^>=\s*(\d+)/.exec(engines)?.[1]), SHIPPED_NODE_MAJOR, engines);
  });

  it('is the Node the tests run the shipped bundles with', () => {
    const version = /^NODE_VERSION=(\d+)\./m.exec(read('scripts/peers/install-node-runtime.sh'))?.[1];

    assert.equal(Number(version), SHIPPED_NODE_MAJOR);
    assert.equal(TEST_NODE_MAJOR, SHIPPED_NODE_MAJOR, 'test/peers/shipped-node.ts');
  });
});
