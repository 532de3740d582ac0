// Issue 10.1 and 10.9, the template's half. template.yaml is read with cfn-lint's own loader and
// its policies are resolved for given parameters, then evaluated with the reference IAM simulator
// (@cloud-copilot/iam-simulate; AGPL, test only): who may send a rotate request, who may write
// the rotation state, and which CloudTrail events start a reconcile.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { loadTemplate } from './template-policy.ts';

const ACCOUNT = '123456789012';
const CLUSTER = 'prod';
const BUCKET = 'podiam-bundles';
const ROTATE_ROLE = `arn:aws:iam::${ACCOUNT}:role/podiam-prod-RotateFunctionRole-R0TATE`;
const RECONCILE_ROLE = `arn:aws:iam::${ACCOUNT}:role/podiam-prod-ReconcileFunctionRole-REC0NC`;
const OPERATOR = `arn:aws:iam::${ACCOUNT}:role/platform-operator`;
const APP = `arn:aws:iam::${ACCOUNT}:role/some-application`;
const PUBLISHER = `arn:aws:iam::${ACCOUNT}:role/policies-publisher`;
const BUS_ARN = `arn:aws:events:us-east-1:${ACCOUNT}:event-bus/podiam-${CLUSTER}-rotate`;

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
let template: Template;

before(() => {
  template = loadTemplate() as Template;
});

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves the intrinsic functions these resources use, for one OperatorRoleArn. */
function resolve(value: unknown, operator: string): unknown {
  const refs: Record<string, unknown> = {
    ClusterName: CLUSTER,
    OperatorRoleArn: operator,
    PublisherRoleArn: PUBLISHER,
    BundleKey: 'bundle.json',
    BundleBucket: BUCKET,
    RotateEventBus: `podiam-${CLUSTER}-rotate`,
    'AWS::Partition': 'aws',
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': 'us-east-1',
    'BundleBucket.Arn': `arn:aws:s3:::${BUCKET}`,
    'RotateFunctionRole.Arn': ROTATE_ROLE,
    'ReconcileFunctionRole.Arn': RECONCILE_ROLE,
  };
  const conditions: Record<string, boolean> = { HasOperatorRole: operator !== '' };
  if (Array.isArray(value)) return value.map((v) => resolve(v, operator)).filter((v) => v !== NO_VALUE);
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if ('Ref' in o) {
    if (o.Ref === 'AWS::NoValue') return NO_VALUE;
    assert.ok(String(o.Ref) in refs, `Ref ${String(o.Ref)}`);
    return refs[String(o.Ref)];
  }
  if ('Fn::Sub' in o) return String(o['Fn::Sub']).replace(/\$\{([^}]+)\}/g, (_, n: string) => String(refs[n] ?? assert.fail(`\${${n}}`)));
  if ('Fn::GetAtt' in o) {
    const key = (o['Fn::GetAtt'] as string[]).join('.');
    assert.ok(key in refs, `GetAtt ${key}`);
    return refs[key];
  }
  if ('Fn::If' in o) {
    const [cond, yes, no] = o['Fn::If'] as [string, unknown, unknown];
    assert.ok(cond in conditions, `condition ${cond}`);
    return resolve(conditions[cond] ? yes : no, operator);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const r = resolve(v, operator);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

/** What IAM decides for a session of `roleArn` whose own policy allows everything. */
async function decide(resourcePolicy: unknown, roleArn: string, action: string, resource: string): Promise<string> {
  const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'admin', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: resourcePolicy as object,
      request: {
        principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/session`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:PrincipalArn': roleArn, 'aws:SecureTransport': 'true' },
      },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (result.resultType === 'error') throw new Error(`simulation error for ${action} ${resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

function rotateRequestedRule(): Record<string, unknown> {
  const events = (template.Resources.RotateFunction!.Properties.Events ?? {}) as Record<string, { Type: string; Properties: Record<string, unknown> }>;
  const custom = Object.values(events).filter((e) => e.Type === 'EventBridgeRule');
  assert.equal(custom.length, 1, 'one EventBridge rule feeds the rotate function');
  return custom[0]!.Properties;
}

describe('template.yaml: who may ask for a rotation', () => {
  it('takes rotate requests only from the stack’s own bus, never the default bus', () => {
    const rule = rotateRequestedRule();
    assert.deepEqual(rule.EventBusName, { Ref: 'RotateEventBus' });
    assert.equal(template.Resources.RotateEventBus!.Type, 'AWS::Events::EventBus');
  });

  it('lets only OperatorRoleArn put events on the rotate bus, even against an identity policy allowing everything', async () => {
    const policy = resolve(template.Resources.RotateEventBus!.Properties.Policy, OPERATOR);
    assert.equal(await decide(policy, OPERATOR, 'events:PutEvents', BUS_ARN), 'Allowed');
    for (const other of [APP, ROTATE_ROLE, `arn:aws:iam::${ACCOUNT}:role/platform-operator-2`]) {
      assert.equal(await decide(policy, other, 'events:PutEvents', BUS_ARN), 'ExplicitlyDenied', other);
    }
  });

  it('lets nobody put events on the rotate bus when OperatorRoleArn is empty', async () => {
    const policy = resolve(template.Resources.RotateEventBus!.Properties.Policy, '');
    for (const who of [OPERATOR, APP]) assert.equal(await decide(policy, who, 'events:PutEvents', BUS_ARN), 'ExplicitlyDenied', who);
  });
});

describe('template.yaml: who may write the rotation state', () => {
  it('denies writing, deleting and rolling back state/* to everyone but the rotate function’s role', async () => {
    const policy = resolve((template.Resources.BundleBucketTlsOnly!.Properties as { PolicyDocument: unknown }).PolicyDocument, OPERATOR);
    const state = `arn:aws:s3:::${BUCKET}/state/${CLUSTER}/intermediate-rotation.json`;
    for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion']) {
      for (const who of [APP, OPERATOR, PUBLISHER, RECONCILE_ROLE]) assert.equal(await decide(policy, who, action, state), 'ExplicitlyDenied', `${action} by ${who}`);
      assert.equal(await decide(policy, ROTATE_ROLE, action, state), 'Allowed', `${action} by the rotate function`);
    }
    // The bundle itself is not the state: publishing stays with the publisher.
    assert.equal(await decide(policy, PUBLISHER, 's3:PutObject', `arn:aws:s3:::${BUCKET}/bundle.json`), 'Allowed');
  });
});

describe('template.yaml: drift events for reconcile', () => {
  function driftPattern(): { detail: { eventName: string[]; $or: Record<string, unknown>[] } } {
    const events = template.Resources.ReconcileFunction!.Properties.Events as Record<string, { Properties: { Pattern: unknown } }>;
    return resolve(events.Drift!.Properties.Pattern, OPERATOR) as { detail: { eventName: string[]; $or: Record<string, unknown>[] } };
  }

  /** Every branch names the callers it takes: anyone but the two functions, or no session issuer at all. */
  function callersOf(branch: Record<string, unknown>): unknown {
    return (branch.userIdentity as { sessionContext: { sessionIssuer: { arn: unknown } } } | undefined)?.sessionContext.sessionIssuer.arn;
  }

  it('includes CreateRole and DeleteRole of any role, so a recreated intermediate role is repaired at once', () => {
    const { detail } = driftPattern();
    assert.ok(detail.eventName.includes('CreateRole') && detail.eventName.includes('DeleteRole'));
    const lifecycle = detail.$or.filter((b) => JSON.stringify(b.eventName) === JSON.stringify(['CreateRole', 'DeleteRole']));
    assert.equal(lifecycle.length, 2);
    for (const b of lifecycle) assert.equal(b.requestParameters, undefined, 'not limited to managed role names');
  });

  it('excludes the reconcile and rotate functions’ own writes in every branch, and keeps callers without a session issuer', () => {
    const { detail } = driftPattern();
    const anythingBut = detail.$or.map(callersOf).filter((c) => JSON.stringify(c).includes('anything-but'));
    const noIssuer = detail.$or.map(callersOf).filter((c) => JSON.stringify(c) === JSON.stringify([{ exists: false }]));
    assert.equal(anythingBut.length + noIssuer.length, detail.$or.length, 'every branch says whose writes it takes');
    assert.equal(anythingBut.length, noIssuer.length, 'each target appears once for role sessions and once for other callers');
    for (const c of anythingBut) assert.deepEqual(c, [{ 'anything-but': [RECONCILE_ROLE, ROTATE_ROLE] }]);
  });
});

describe('template.yaml: one writer of trust policies', () => {
  it('runs reconcile one execution at a time and lets rotate only invoke it, never write trust itself', () => {
    const reconcileFn = template.Resources.ReconcileFunction!.Properties;
    const rotateFn = template.Resources.RotateFunction!.Properties;
    assert.equal(reconcileFn.ReservedConcurrentExecutions, 1);
    assert.deepEqual((rotateFn.Environment as { Variables: Record<string, unknown> }).Variables.PODIAM_RECONCILE_FUNCTION_ARN, { 'Fn::GetAtt': ['ReconcileFunction', 'Arn'] });
    const statements = (rotateFn.Policies as { Statement: { Action: string | string[]; Resource: unknown }[] }[]).flatMap((p) => p.Statement);
    const actions = statements.flatMap((st) => [st.Action].flat());
    for (const write of ['iam:UpdateAssumeRolePolicy', 'iam:CreateRole', 'iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:AttachRolePolicy']) assert.ok(!actions.includes(write), write);
    const invoke = statements.filter((st) => [st.Action].flat().includes('lambda:InvokeFunction'));
    assert.deepEqual(invoke.map((st) => st.Resource), [{ 'Fn::GetAtt': ['ReconcileFunction', 'Arn'] }]);
  });
});
