import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideRole, globMatches, parseDurationSeconds, type ClusterSettings, type NamespaceFacts, type PodFacts } from '../../../core/src/role-decision.ts';

const settings: ClusterSettings = { cluster: 'prod', accountId: '123456789012', allowedAccounts: ['210987654321'] };
const ns = (annotations: Record<string, string> = {}, name = 'orders'): NamespaceFacts => ({ name, annotations });
const pod = (annotations: Record<string, string> = {}, namespace = 'orders'): PodFacts => ({ namespace, name: 'web-1', annotations });
const role = (value: string) => ({ 'iam.amazonaws.com/role': value });

describe('decideRole: a namespace\'s own service roles', () => {
  it('maps a bare service name to the namespace\'s managed role', () => {
    const d = decideRole(pod(role('reader')), ns(), settings);
    assert.equal(d.kind, 'allow');
    assert.equal(d.kind === 'allow' && d.role.arn, 'arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader');
    assert.equal(d.kind === 'allow' && d.role.service, 'reader');
  });

  it('allows the full ARN of the namespace\'s own managed role', () => {
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader')), ns(), settings);
    assert.equal(d.kind, 'allow');
    assert.equal(d.kind === 'allow' && d.role.service, 'reader');
  });

  it('refuses another namespace\'s managed role by ARN even when the namespace allows every role', () => {
    const d = decideRole(
      pod(role('arn:aws:iam::123456789012:role/podiam/prod/prod.billing.writer')),
      ns({ 'iam.amazonaws.com/allowed-roles': '["*"]' }),
      settings,
    );
    assert.equal(d.kind, 'deny');
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('gives namespace orders asking for billing-x a different role than namespace orders-billing asking for x', () => {
    const fromOrders = decideRole(pod(role('billing-x')), ns(), settings);
    const fromOrdersBilling = decideRole(pod(role('x'), 'orders-billing'), ns({}, 'orders-billing'), settings);
    assert.equal(fromOrders.kind === 'allow' && fromOrders.role.name, 'prod.orders.billing-x');
    assert.equal(fromOrdersBilling.kind === 'allow' && fromOrdersBilling.role.name, 'prod.orders-billing.x');
  });

  it('refuses namespace orders the ARN of namespace orders-billing\'s role x', () => {
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/podiam/prod/prod.orders-billing.x')), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('refuses the ARN of an old-shape role name, which could belong to another namespace', () => {
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/podiam/prod/prod-orders-billing-x')), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('refuses a managed role of another cluster', () => {
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/podiam/dev/dev.orders.reader')), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('gives no role to a pod without the annotation when no default role is set', () => {
    assert.equal(decideRole(pod(), ns(), settings).kind, 'none');
  });

  it('puts the default role through the same rules as an annotation', () => {
    const own = decideRole(pod(), ns(), { ...settings, defaultRole: 'default' });
    assert.equal(own.kind === 'allow' && own.source, 'default');
    assert.equal(own.kind === 'allow' && own.role.name, 'prod.orders.default');
    const foreign = decideRole(pod(), ns(), { ...settings, defaultRole: 'arn:aws:iam::123456789012:role/admin' });
    assert.equal(foreign.kind === 'deny' && foreign.code, 'PODIAM_ROLE_NOT_PERMITTED');
  });

  it('refuses an annotation that is neither a service name nor an ARN', () => {
    const d = decideRole(pod(role('Not A Role!')), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_ANNOTATION_INVALID');
  });
});

describe('decideRole: namespace annotations widen what a pod may use (kube2iam and kiam)', () => {
  const admin = 'arn:aws:iam::123456789012:role/team/admin';

  it('refuses an unmanaged ARN when the namespace permits nothing', () => {
    const d = decideRole(pod(role(admin)), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED');
    assert.match(d.kind === 'deny' ? d.reason : '', /does not permit/);
  });

  it('allows an ARN that matches an allowed-roles glob', () => {
    const d = decideRole(pod(role(admin)), ns({ 'iam.amazonaws.com/allowed-roles': '["arn:aws:iam::123456789012:role/team/*"]' }), settings);
    assert.equal(d.kind, 'allow');
  });

  it('keeps a kube2iam bare role name working when the namespace allows it', () => {
    const d = decideRole(pod(role('legacy-app')), ns({ 'iam.amazonaws.com/allowed-roles': '["legacy-*"]' }), settings);
    assert.equal(d.kind === 'allow' && d.role.arn, 'arn:aws:iam::123456789012:role/legacy-app');
  });

  it('anchors the kiam permitted regexp so a partial match is not enough', () => {
    const annotations = { 'iam.amazonaws.com/permitted': 'team/reader' };
    assert.equal(decideRole(pod(role('arn:aws:iam::123456789012:role/team/reader')), ns(annotations), settings).kind, 'allow');
    assert.equal(decideRole(pod(role('arn:aws:iam::123456789012:role/team/reader-admin')), ns(annotations), settings).kind, 'deny');
  });

  it('refuses a permitted role of an account that is not on the allowlist', () => {
    const d = decideRole(
      pod(role('arn:aws:iam::999999999999:role/x')),
      ns({ 'iam.amazonaws.com/allowed-roles': '["*"]' }),
      settings,
    );
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ACCOUNT_NOT_ALLOWED');
    assert.equal(decideRole(pod(role('arn:aws:iam::210987654321:role/x')), ns({ 'iam.amazonaws.com/allowed-roles': '["*"]' }), settings).kind, 'allow');
  });

  it('treats a malformed namespace annotation as a denial, not as allow-all', () => {
    const malformed: Record<string, string>[] = [{ 'iam.amazonaws.com/allowed-roles': '[*' }, { 'iam.amazonaws.com/allowed-roles': '{"a":1}' }, { 'iam.amazonaws.com/permitted': '(' }];
    for (const annotations of malformed) {
      const d = decideRole(pod(role(admin)), ns(annotations), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_NAMESPACE_ANNOTATION_INVALID');
    }
  });
});

describe('decideRole: session settings from the pod', () => {
  it('passes the external id through', () => {
    const d = decideRole(pod({ ...role('reader'), 'iam.amazonaws.com/external-id': 'ext-42' }), ns(), settings);
    assert.equal(d.kind === 'allow' && d.externalId, 'ext-42');
  });

  it('caps the session TTL at one hour because role chaining allows no more', () => {
    const d = decideRole(pod({ ...role('reader'), 'iam.amazonaws.com/session-ttl': '6h' }), ns(), settings);
    assert.equal(d.kind === 'allow' && d.sessionSeconds, 3600);
    const short = decideRole(pod({ ...role('reader'), 'iam.amazonaws.com/session-ttl': '20m' }), ns(), settings);
    assert.equal(short.kind === 'allow' && short.sessionSeconds, 1200);
  });

  it('refuses a session TTL that is malformed or under STS\'s 15-minute minimum', () => {
    for (const ttl of ['soon', '60s', '-5m']) {
      const d = decideRole(pod({ ...role('reader'), 'iam.amazonaws.com/session-ttl': ttl }), ns(), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_SESSION_TTL_INVALID', ttl);
    }
  });
});

describe('glob and duration helpers', () => {
  it('matches * across any characters and everything else literally', () => {
    assert.ok(globMatches('arn:aws:iam::*:role/app-*', 'arn:aws:iam::1:role/app-x/y'));
    assert.ok(!globMatches('app.reader', 'appXreader'));
    assert.ok(!globMatches('app', 'app-admin'));
  });

  it('parses seconds and Go-style durations', () => {
    assert.equal(parseDurationSeconds('900'), 900);
    assert.equal(parseDurationSeconds('1h30m'), 5400);
    assert.equal(parseDurationSeconds('15m'), 900);
    assert.equal(parseDurationSeconds('1.5h'), undefined);
  });
});
