import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { secretMatches } from '../../../functions/admission/handler.ts';
import { parseReview } from '../../../functions/admission/review.ts';
import { admissionVerdict } from '../../../functions/admission/verdict.ts';
import { buildDesiredState } from '../../../iam-model/src/desired-state.ts';
import { PodiamError } from '../../../core/src/errors.ts';
import { ACCOUNT_ID, PROXY_ROLE, bundleOf, exampleBundle } from './fixtures.ts';

const desired = buildDesiredState(exampleBundle(), { cluster: 'prod', accountId: ACCOUNT_ID, intermediateRoleArns: [PROXY_ROLE] });
const settings = { cluster: 'prod', accountId: ACCOUNT_ID };

function review(annotations: Record<string, string>, extra: Record<string, unknown> = {}) {
  return parseReview(JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'orders', operation: 'CREATE', object: { metadata: { name: 'p', annotations } }, ...extra },
  }));
}

describe('admission verdict (pure)', () => {
  it('needs the namespace’s own managed role when it is in the bundle', () => {
    const v = admissionVerdict(review({ 'iam.amazonaws.com/role': 'writer' }), desired, settings);
    assert.equal(v.kind, 'needs-role');
    assert.equal(v.kind === 'needs-role' && v.role.name, 'prod.orders.writer');
  });

  it('denies a managed role missing from the bundle, naming policies/<ns>/<svc>.json', () => {
    const v = admissionVerdict(review({ 'iam.amazonaws.com/role': 'billing' }), desired, settings);
    assert.deepEqual(v.kind === 'deny' && [v.code, /policies\/orders\/billing\.json/.test(v.message)], ['PODIAM_ROLE_NOT_IN_BUNDLE', true]);
  });

  it('denies what the proxy denies whatever the namespace says: other namespaces’ roles, bad TTLs', () => {
    const other = admissionVerdict(review({ 'iam.amazonaws.com/role': `arn:aws:iam::${ACCOUNT_ID}:role/podiam/prod/prod.dns.updater` }), desired, settings);
    assert.equal(other.kind === 'deny' && other.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
    const ttl = admissionVerdict(review({ 'iam.amazonaws.com/role': 'reader', 'iam.amazonaws.com/session-ttl': '1m' }), desired, settings);
    assert.equal(ttl.kind === 'deny' && ttl.code, 'PODIAM_SESSION_TTL_INVALID');
  });

  it('allows with a warning what only namespace annotations could permit, and still checks allowed accounts when known', () => {
    const own = admissionVerdict(review({ 'iam.amazonaws.com/role': `arn:aws:iam::${ACCOUNT_ID}:role/legacy` }), desired, settings);
    assert.equal(own.kind, 'allow');
    assert.equal(own.kind === 'allow' && own.warnings.length, 1);
    const pathName = admissionVerdict(review({ 'iam.amazonaws.com/role': 'team/legacy' }), desired, settings);
    assert.equal(pathName.kind, 'allow');
    const foreign = admissionVerdict(review({ 'iam.amazonaws.com/role': 'arn:aws:iam::999999999999:role/x' }), desired, { ...settings, allowedAccounts: ['111111111111'] });
    assert.equal(foreign.kind === 'deny' && foreign.code, 'PODIAM_ACCOUNT_NOT_ALLOWED');
  });

  it('denies a managed role name under another path, and the managed path of another account, instead of admitting them with a warning', () => {
    // The webhook cannot see namespace annotations and admits "what only they could permit" with
    // a warning; a managed role reached by name under another path, or the managed path in another
    // account, must never be in that class (issue 11 item 9).
    for (const role of [`arn:aws:iam::${ACCOUNT_ID}:role/team/prod.dns.updater`, 'team/prod.dns.updater', 'arn:aws:iam::999999999999:role/podiam/prod/prod.orders.reader']) {
      const v = admissionVerdict(review({ 'iam.amazonaws.com/role': role }), desired, { ...settings, allowedAccounts: ['999999999999'] });
      assert.equal(v.kind === 'deny' && v.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE', role);
    }
  });

  it('allows pods without a role, other kinds and DELETE', () => {
    assert.equal(admissionVerdict(review({}), desired, settings).kind, 'allow');
    assert.equal(admissionVerdict(review({ 'iam.amazonaws.com/role': 'billing' }, { kind: { kind: 'ConfigMap' }, resource: { resource: 'configmaps' } }), desired, settings).kind, 'allow');
    assert.equal(admissionVerdict(review({}, { operation: 'DELETE', object: null }), desired, settings).kind, 'allow');
  });
});

describe('admission verdict on the pods/status subresource (pure)', () => {
  const status = (before: Record<string, string>, after: Record<string, string>) =>
    review(after, { operation: 'UPDATE', subResource: 'status', oldObject: { metadata: { name: 'p', annotations: before } } });

  it('refuses a change of the role, external id or session TTL annotation, naming the annotation', () => {
    for (const key of ['iam.amazonaws.com/role', 'iam.amazonaws.com/external-id', 'iam.amazonaws.com/session-ttl']) {
      const v = admissionVerdict(status({ 'iam.amazonaws.com/role': 'reader' }, { 'iam.amazonaws.com/role': 'reader', [key]: 'writer' }), desired, settings);
      assert.deepEqual(v.kind === 'deny' && [v.code, v.message.includes(key)], ['PODIAM_ROLE_CHANGE_VIA_STATUS', true], key);
    }
  });

  it('refuses even a role from the bundle there, and allows a status update that keeps the annotations', () => {
    const swapped = admissionVerdict(status({ 'iam.amazonaws.com/role': 'reader' }, { 'iam.amazonaws.com/role': 'writer' }), desired, settings);
    assert.equal(swapped.kind === 'deny' && swapped.code, 'PODIAM_ROLE_CHANGE_VIA_STATUS');
    const kept = admissionVerdict(status({ 'iam.amazonaws.com/role': 'reader' }, { 'iam.amazonaws.com/role': 'reader', 'example.com/x': 'y' }), desired, settings);
    assert.equal(kept.kind, 'allow');
  });
});

describe('admission verdict on a Namespace (pure, no bundle needed)', () => {
  const ns = (annotations: Record<string, string>, extra: Record<string, unknown> = {}) =>
    parseReview(JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Namespace' }, resource: { group: '', version: 'v1', resource: 'namespaces' }, name: 'orders', namespace: 'orders', operation: 'CREATE', object: { metadata: { name: 'orders', annotations } }, ...extra },
    }));
  // Deliberately an empty desired state: the namespace path must never look at the bundle.
  const none = buildDesiredState(bundleOf([]), { cluster: 'prod', accountId: ACCOUNT_ID, intermediateRoleArns: [PROXY_ROLE] });

  it('refuses a permitted regexp the proxy refuses, naming the code and the unsupported construct', () => {
    for (const [pattern, construct] of [['(a)\\1', /backreference/i], ['(?=x)reader', /look/i], ['(?<n>a)', /named/i]] as const) {
      const v = admissionVerdict(ns({ 'iam.amazonaws.com/permitted': pattern }), none, settings);
      assert.equal(v.kind, 'deny', pattern);
      assert.equal(v.kind === 'deny' && v.code, 'PODIAM_NAMESPACE_ANNOTATION_INVALID', pattern);
      assert.match(v.kind === 'deny' ? v.message : '', construct, pattern);
      assert.match(v.kind === 'deny' ? v.message : '', /iam\.amazonaws\.com\/permitted/);
    }
  });

  it('refuses allowed-roles that is not JSON or not an array of strings', () => {
    for (const value of ['not json', '{"a":1}', '[1,2]']) {
      const v = admissionVerdict(ns({ 'iam.amazonaws.com/allowed-roles': value }), none, settings);
      assert.deepEqual(v.kind === 'deny' && [v.code, v.message.includes('iam.amazonaws.com/allowed-roles')], ['PODIAM_NAMESPACE_ANNOTATION_INVALID', true], value);
    }
  });

  it('allows a namespace with a supported regexp and a JSON array of globs, and one without podiam annotations', () => {
    assert.equal(admissionVerdict(ns({ 'iam.amazonaws.com/permitted': 'arn:aws:iam::\\d{12}:role/team/.*', 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' }), none, settings).kind, 'allow');
    assert.equal(admissionVerdict(ns({ 'example.com/team': 'orders' }), none, settings).kind, 'allow');
  });

  it('refuses an update that writes an invalid annotation, and lets other edits of a namespace that already has one through with a warning', () => {
    const bad = { 'iam.amazonaws.com/permitted': '(a)\\1' };
    const written = admissionVerdict(ns(bad, { operation: 'UPDATE', oldObject: { metadata: { name: 'orders', annotations: {} } } }), none, settings);
    assert.equal(written.kind === 'deny' && written.code, 'PODIAM_NAMESPACE_ANNOTATION_INVALID');
    const relabelled = admissionVerdict(ns(bad, { operation: 'UPDATE', oldObject: { metadata: { name: 'orders', annotations: bad } } }), none, settings);
    assert.equal(relabelled.kind, 'allow');
    assert.match(relabelled.kind === 'allow' ? relabelled.warnings.join() : '', /not a regular expression podiam accepts/);
  });
});

describe('AdmissionReview parsing', () => {
  it('refuses a wrong apiVersion, a missing uid and a missing object', () => {
    const base = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', object: {} } };
    assert.doesNotThrow(() => parseReview(JSON.stringify(base)));
    for (const bad of [
      { ...base, apiVersion: 'admission.k8s.io/v1beta1' },
      { ...base, request: { ...base.request, uid: '' } },
      { ...base, request: { ...base.request, object: undefined } },
      { ...base, request: { ...base.request, object: { metadata: { annotations: { a: 1 } } } } },
    ]) {
      assert.throws(() => parseReview(JSON.stringify(bad)), (err: unknown) => err instanceof PodiamError && err.code === 'PODIAM_ADMISSION_REVIEW_INVALID' && err.status === 400);
    }
  });
});

describe('webhook secret check', () => {
  const secret = 'a'.repeat(40);
  // The function holds only the secret's SHA-256 (WebhookSecretSha256).
  const stored = createHash('sha256').update(secret).digest('hex');
  it('accepts exactly /admit/<secret> (a trailing slash too) and nothing else', () => {
    assert.ok(secretMatches(`/admit/${secret}`, stored));
    assert.ok(secretMatches(`/admit/${secret}/`, stored));
    for (const path of ['/', `/${secret}`, `/admit/${secret}a`, `/admit/${secret.slice(1)}`, '/admit/', `/admit/${secret}/x`, `/admit/${stored}`]) {
      assert.ok(!secretMatches(path, stored), path);
    }
  });
});
