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

// Issue 11 item 9. Each test names, in its comment, the plausible wrong implementation it catches.
describe('decideRole under hostile input: a bare name with a path never reaches another namespace\'s role', () => {
  const everything = ns({ 'iam.amazonaws.com/allowed-roles': '["*"]', 'iam.amazonaws.com/permitted': '.*' });

  it('refuses podiam/prod/prod.billing.writer even when the namespace permits every role', () => {
    // Catches: resolving a bare 'path/name' kube2iam-style without excluding the managed path,
    // so that allowed-roles ["*"] hands out billing's managed role to namespace orders.
    const d = decideRole(pod(role('podiam/prod/prod.billing.writer')), everything, settings);
    assert.equal(d.kind, 'deny');
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
    // A name without the cluster's prefix under a managed path is not a permitted role either.
    for (const requested of ['podiam/prod/writer', 'podiam/dev/dev.billing.writer']) {
      const other = decideRole(pod(role(requested)), everything, settings);
      assert.equal(other.kind === 'deny' && other.code, 'PODIAM_ROLE_ANNOTATION_INVALID', requested);
    }
  });

  it('refuses a managed role name under another path, bare or as an ARN, even when the namespace permits every role', () => {
    // Catches: trusting the path to tell managed roles apart. IAM role names are unique in an
    // account whatever the path, so team/prod.billing.writer names billing's role.
    for (const requested of ['team/prod.billing.writer', 'arn:aws:iam::123456789012:role/team/prod.billing.writer', 'x/../podiam/prod/prod.billing.writer', 'prod.billing.writer']) {
      const d = decideRole(pod(role(requested)), everything, settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE', requested);
    }
  });

  it('reads billing/writer as the unmanaged role at path /billing/, never as namespace billing\'s service writer', () => {
    // Catches: splitting a bare name on '/' into namespace and service.
    const d = decideRole(pod(role('billing/writer')), everything, settings);
    assert.equal(d.kind === 'allow' && d.role.arn, 'arn:aws:iam::123456789012:role/billing/writer');
    assert.equal(d.kind === 'allow' && d.role.service, undefined);
    const strict = decideRole(pod(role('billing/writer')), ns(), settings);
    assert.equal(strict.kind === 'deny' && strict.code, 'PODIAM_ROLE_ANNOTATION_INVALID');
  });

  it('refuses ../x and ./writer in a namespace without annotations, and never maps them to a managed role', () => {
    // Catches: normalising the bare name as a file path (path.basename / path.normalize) before
    // deciding, which turns '../x' into the service 'x'.
    for (const requested of ['../x', './writer', '../billing/writer', '/writer']) {
      const d = decideRole(pod(role(requested)), ns(), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_ANNOTATION_INVALID', requested);
    }
  });
});

describe('decideRole under hostile input: the cluster\'s managed role is only ever the one in the cluster\'s own account', () => {
  const foreign = 'arn:aws:iam::999999999999:role/podiam/prod/prod.orders.reader';

  it('refuses the managed path and name of the pod\'s own namespace in another account', () => {
    // Catches: recognising the managed role by path and name alone, not by account: the other
    // account's role would be granted as the namespace's own service role, with no permission.
    const d = decideRole(pod(role(foreign)), ns(), settings);
    assert.equal(d.kind, 'deny');
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('refuses it even when the account is on the allowlist and the namespace permits every role', () => {
    // Rule 3: another podiam-managed path is never a "role the namespace permits". Catches: an
    // implementation that falls through to the namespace rules for a foreign managed path.
    const d = decideRole(pod(role(foreign)), ns({ 'iam.amazonaws.com/allowed-roles': '["*"]' }), { ...settings, allowedAccounts: ['999999999999'] });
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });

  it('refuses the managed path and name in another partition of the same account id', () => {
    // Catches: comparing the account id but not the partition.
    const d = decideRole(pod(role('arn:aws-cn:iam::123456789012:role/podiam/prod/prod.orders.reader')), ns(), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE');
  });
});

describe('decideRole under hostile input: nothing is accepted by prefix only', () => {
  const team = (name: string) => `arn:aws:iam::123456789012:role/team/${name}`;

  it('does not let an allowed-roles glob for reader match reader-extra or readers', () => {
    // Catches: an unanchored glob (new RegExp(pattern) without $) or value.startsWith(glob).
    const annotations = { 'iam.amazonaws.com/allowed-roles': `["${team('reader')}"]` };
    assert.equal(decideRole(pod(role(team('reader'))), ns(annotations), settings).kind, 'allow');
    for (const name of ['reader-extra', 'readers']) {
      const d = decideRole(pod(role(team(name))), ns(annotations), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED', name);
    }
  });

  it('does not let a path/name glob match a longer path that ends with it', () => {
    // Catches: a glob anchored only at the end (value.endsWith / missing ^).
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/evil/team/reader')), ns({ 'iam.amazonaws.com/allowed-roles': '["team/reader"]' }), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED');
  });

  it('anchors the permitted regexp at both ends', () => {
    // Catches: kiam's unanchored match, and anchoring one end only (^reader or reader$).
    const annotations = { 'iam.amazonaws.com/permitted': 'team/reader' };
    assert.equal(decideRole(pod(role(team('reader'))), ns(annotations), settings).kind, 'allow');
    for (const arn of [team('reader-admin'), 'arn:aws:iam::123456789012:role/xteam/reader', 'arn:aws:iam::123456789012:role/evil/team/reader']) {
      const d = decideRole(pod(role(arn)), ns(annotations), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED', arn);
    }
  });

  it('anchors a permitted alternation as a whole, not only its first and last branches', () => {
    // Catches: wrapping as ^${p}$ instead of ^(?:${p})$: '^team/a|team/b$' would accept
    // 'team/a-admin' (first branch anchored at the start only).
    const annotations = { 'iam.amazonaws.com/permitted': 'team/a|team/b' };
    assert.equal(decideRole(pod(role(team('b'))), ns(annotations), settings).kind, 'allow');
    const d = decideRole(pod(role(team('a-admin'))), ns(annotations), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED');
  });

  it('gives the ARN of service reader2 the role reader2, not reader, and refuses names that only start with the namespace', () => {
    // Catches: taking the service from a prefix match of the name (startsWith('prod.orders'))
    // instead of inverting the naming function.
    const d = decideRole(pod(role('arn:aws:iam::123456789012:role/podiam/prod/prod.orders.reader2')), ns(), settings);
    assert.equal(d.kind === 'allow' && d.role.service, 'reader2');
    for (const name of ['prod.ordersx.reader', 'prod.orders.reader.admin', 'prod.orders.']) {
      const denied = decideRole(pod(role(`arn:aws:iam::123456789012:role/podiam/prod/${name}`)), ns(), settings);
      assert.equal(denied.kind === 'deny' && denied.code, 'PODIAM_ROLE_OF_OTHER_NAMESPACE', name);
    }
  });
});

describe('decideRole under hostile input: namespace regexps are run in linear time', () => {
  it('answers (a|aa)+ against a role named with 38 a\'s and a b: not permitted', () => {
    // With JavaScript's backtracking RegExp this decision held the event loop for over a second.
    const annotations = { 'iam.amazonaws.com/permitted': '(a|aa)+' };
    const d = decideRole(pod(role(`arn:aws:iam::123456789012:role/${'a'.repeat(38)}b`)), ns(annotations), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_NOT_PERMITTED');
    const ok = decideRole(pod(role(`arn:aws:iam::123456789012:role/${'a'.repeat(38)}`)), ns(annotations), settings);
    assert.equal(ok.kind, 'allow');
  });

  it('refuses a permitted regexp with a backreference or lookaround, naming the construct, instead of running it', () => {
    // Catches: going back to new RegExp(permitted), which accepts these (and backtracks on them).
    const cases: [string, RegExp][] = [['(a+)\\1', /backreference/], ['(?=team/).*', /lookahead/], ['(?<!x)team/.*', /lookbehind/]];
    for (const [permitted, named] of cases) {
      const d = decideRole(pod(role('arn:aws:iam::123456789012:role/team/reader')), ns({ 'iam.amazonaws.com/permitted': permitted }), settings);
      assert.equal(d.kind === 'deny' && d.code, 'PODIAM_NAMESPACE_ANNOTATION_INVALID', permitted);
      assert.match(d.kind === 'deny' ? d.reason : '', named);
    }
  });

  it('refuses a permitted regexp whose matching would pass the work cap on this role, instead of allowing or running on', () => {
    // Catches: dropping the work cap (the answer would then be 'not permitted' after ~120,000
    // steps), and treating the cap as a match (allow).
    const long = `arn:aws:iam::123456789012:role/${'a'.repeat(600)}/b`;
    const d = decideRole(pod(role(long)), ns({ 'iam.amazonaws.com/permitted': '(.*a){100}' }), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_NAMESPACE_ANNOTATION_INVALID');
    assert.match(d.kind === 'deny' ? d.reason : '', /more than \d+ steps/);
  });

  it('refuses a role annotation longer than any IAM role ARN before matching it', () => {
    // Catches: running namespace patterns on an unbounded annotation (IAM paths are ≤ 512).
    const long = `arn:aws:iam::123456789012:role/${'p/'.repeat(320)}x`;
    const d = decideRole(pod(role(long)), ns({ 'iam.amazonaws.com/permitted': '.*' }), settings);
    assert.equal(d.kind === 'deny' && d.code, 'PODIAM_ROLE_ANNOTATION_INVALID');
  });
});
