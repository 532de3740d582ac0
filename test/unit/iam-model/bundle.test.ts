import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildBundle, serializeBundle } from '../../../iam-model/src/bundle/build-bundle.ts';
import { canonicalJson } from '../../../iam-model/src/bundle/canonical-json.ts';
import { BundleInvalidError, parseBundle } from '../../../iam-model/src/bundle/parse-bundle.ts';
import { checkPolicies } from '../../../iam-model/src/check/check.ts';

const repo = path.resolve(import.meta.dirname, '../../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'podiam-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function bundleOf(root: string) {
  const r = checkPolicies({ root, cluster: 'dev' });
  assert.equal(r.errors, 0);
  return buildBundle(r.guardrails, r.services);
}

describe('the policies bundle', () => {
  it('is byte-for-byte the same for the same policies, wherever and in whatever key order they are written', () => {
    const copy = path.join(tmp, 'policies');
    cpSync(path.join(repo, 'policies'), copy, { recursive: true });
    // Same content, keys in another order and other whitespace.
    const file = path.join(copy, 'orders/reader.json');
    writeFileSync(file, JSON.stringify(reverseKeys(JSON.parse(readFileSync(file, 'utf8')))));
    const a = serializeBundle(bundleOf(path.join(repo, 'policies')));
    const b = serializeBundle(bundleOf(copy));
    assert.equal(a, b);
  });

  it('sorts services by namespace then service and records the sha256 of its content', () => {
    const bundle = bundleOf(path.join(repo, 'policies'));
    assert.deepEqual(bundle.services.map((s) => `${s.namespace}/${s.service}`), ['dns/updater', 'orders/ledger', 'orders/reader']);
    assert.equal(bundle.services[2]!.file, 'policies/orders/reader.json');
    assert.match(bundle.hash, /^[0-9a-f]{64}$/);
    assert.equal(parseBundle(serializeBundle(bundle)).hash, bundle.hash);
  });

  it('changes its hash when a policy changes', () => {
    const bundle = bundleOf(path.join(repo, 'policies'));
    const changed = structuredClone(bundle);
    (changed.services[0]!.policy.Statement as { Sid?: string }[])[0]!.Sid = 'Renamed';
    assert.notEqual(buildBundle(changed.guardrails, changed.services).hash, bundle.hash);
  });

  it('is refused by the loader when its content no longer matches its hash', () => {
    const bundle = bundleOf(path.join(repo, 'policies'));
    const tampered = JSON.parse(serializeBundle(bundle)) as { services: { policy: { Statement: { Action: unknown }[] } }[] };
    tampered.services[0]!.policy.Statement[0]!.Action = '*';
    assert.throws(() => parseBundle(canonicalJson(tampered)), (err: unknown) => err instanceof BundleInvalidError && err.code === 'PODIAM_BUNDLE_INVALID' && /hash/.test(err.message));
  });

  it('is refused by the loader when it is not JSON, has another schema version, or a service with a Principal', () => {
    const bundle = bundleOf(path.join(repo, 'policies'));
    assert.throws(() => parseBundle('{"schemaVersion":'), /not valid JSON/);
    assert.throws(() => parseBundle(canonicalJson({ ...bundle, schemaVersion: 2 })), /schemaVersion 2/);
    const withPrincipal = structuredClone(bundle);
    (withPrincipal.services[0]!.policy.Statement as unknown as Record<string, unknown>[])[0]!.Principal = '*';
    assert.throws(() => parseBundle(canonicalJson(withPrincipal)), /Principal/);
  });
});

function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
}
