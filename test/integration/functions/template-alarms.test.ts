// Issue 17 item 3: "alert on the dead-letter queues" needs something to point at. Every queue a
// failed run or an undeliverable event lands in is a stack output and has an alarm; so do function
// errors, admission latency near its budget and bundles reconcile refuses. Alarms notify
// AlarmTopicArn only when it is set. The template is read with cfn-lint's loader and, for the
// queues SAM creates from the events' DeadLetterConfig, translated with SAM's own transform (the
// python peer); sam.test.ts proves `sam validate --lint` passes.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { requireTool } from '../../peers/index.ts';
import { loadTemplate } from './template-policy.ts';
import { loadAdmissionConfig } from '../../../functions/lib/config.ts';
import { BUNDLE_REFUSED_METRIC } from '../../../functions/lib/bundle-guard.ts';
import { METRIC_NAMESPACE } from '../../../functions/lib/metrics.ts';

type Resource = { Type: string; Properties: Record<string, unknown>; Condition?: string };
type Template = { Resources: Record<string, Resource>; Outputs: Record<string, Resource & { Value: unknown }>; Parameters: Record<string, Record<string, unknown>>; Conditions: Record<string, unknown> };

const repo = path.resolve(import.meta.dirname, '../../..');
let template: Template;
let translated: Template;

/** SAM's transform, as `sam validate` runs it (a local CodeUri stands in for an S3 location). */
function translate(): Template {
  const script = [
    'import json, sys',
    'from cfnlint.decode import decode',
    'from samtranslator.translator.transform import transform',
    'class NoManagedPolicies:',
    '    def load(self): return {}',
    't, m = decode(sys.argv[1])',
    'assert not m, m',
    "t['Globals']['Function']['CodeUri'] = 's3://bucket/key'",
    'print(json.dumps(transform(t, {}, NoManagedPolicies()), default=str))',
  ].join('\n');
  const out = execFileSync(requireTool('python'), ['-c', script, path.join(repo, 'template.yaml')], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, AWS_DEFAULT_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' },
  });
  return JSON.parse(out) as Template;
}

before(() => {
  template = loadTemplate() as unknown as Template;
  translated = translate();
});

function alarms(t: Template): [string, Record<string, unknown>][] {
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .map(([name, r]) => [name, r.Properties]);
}

function alarmOn(namespace: string, metric: string, dimension: string, value: unknown): Record<string, unknown> {
  const found = alarms(template).filter(([, p]) => {
    const dims = p.Dimensions as { Name: string; Value: unknown }[];
    return p.Namespace === namespace && p.MetricName === metric && dims.some((d) => d.Name === dimension && JSON.stringify(d.Value) === JSON.stringify(value));
  });
  assert.equal(found.length, 1, `one alarm on ${namespace} ${metric} ${dimension}=${JSON.stringify(value)}`);
  return found[0]![1];
}

function assertFiresOnAny(p: Record<string, unknown>): void {
  assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
  assert.equal(Number(p.Threshold), 0);
  assert.equal(p.TreatMissingData, 'notBreaching');
}

describe('template: alarms and dead-letter queue outputs', () => {
  it('has a dead-letter queue behind every asynchronous function and every EventBridge rule, and nothing else as SQS queue', () => {
    const queues = Object.entries(translated.Resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue').map(([n]) => n).sort();
    assert.deepEqual(queues, [
      'ReconcileDeadLetterQueue',
      'ReconcileFunctionBundlePublishedQueue',
      'ReconcileFunctionDriftQueue',
      'ReconcileFunctionHourlyQueue',
      'RotateDeadLetterQueue',
      'RotateFunctionDailyQueue',
      'RotateFunctionRequestedQueue',
    ]);
    const rules = Object.entries(translated.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    assert.equal(rules.length, 5);
    for (const [name, rule] of rules) {
      const targets = rule.Properties.Targets as { DeadLetterConfig?: { Arn?: { 'Fn::GetAtt'?: string[] } } }[];
      assert.equal(targets[0]?.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0], `${name}Queue`, `${name} sends undeliverable events to ${name}Queue`);
    }
  });

  it('outputs the URL and ARN of every dead-letter queue, and each output names a queue that exists after the transform', () => {
    const queues = Object.entries(translated.Resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue').map(([n]) => n);
    for (const q of queues) {
      assert.deepEqual(template.Outputs[`${q}Url`]?.Value, { Ref: q }, `${q}Url`);
      assert.deepEqual(template.Outputs[`${q}Arn`]?.Value, { 'Fn::GetAtt': [q, 'Arn'] }, `${q}Arn`);
    }
  });

  it('alarms when any dead-letter queue holds a message', () => {
    const queues = Object.entries(translated.Resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue').map(([n]) => n);
    for (const q of queues) {
      const p = alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', { 'Fn::GetAtt': [q, 'QueueName'] });
      assertFiresOnAny(p);
      assert.equal(p.Statistic, 'Maximum');
    }
  });

  it('alarms on any error of each function within 5 minutes', () => {
    for (const fn of ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction']) {
      const p = alarmOn('AWS/Lambda', 'Errors', 'FunctionName', { Ref: fn });
      assertFiresOnAny(p);
      assert.equal(p.Statistic, 'Sum');
      assert.equal(Number(p.Period), 300);
    }
  });

  it("alarms when admission's p99 duration passes 80 % of the handler's default budget", () => {
    const budgetMs = loadAdmissionConfig({
      PODIAM_CLUSTER_NAME: 'prod',
      PODIAM_INTERMEDIATE_ROLE_ARNS: 'arn:aws:iam::123456789012:role/a',
      PODIAM_BUNDLE_BUCKET: 'b',
      PODIAM_PERMISSIONS_BOUNDARY_ARN: 'arn:aws:iam::123456789012:policy/b',
      PODIAM_WEBHOOK_SECRET_SHA256: 'a'.repeat(64),
    }).budgetMs;
    const p = alarmOn('AWS/Lambda', 'Duration', 'FunctionName', { Ref: 'AdmissionFunction' });
    assert.equal(p.ExtendedStatistic, 'p99');
    assert.equal(p.Statistic, undefined);
    assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(Number(p.Threshold), 0.8 * budgetMs);
  });

  it('alarms when reconcile refuses a bundle (the BundleRefused metric the functions write)', () => {
    const p = alarmOn(METRIC_NAMESPACE, BUNDLE_REFUSED_METRIC, 'Function', 'reconcile');
    assertFiresOnAny(p);
    assert.equal(p.Statistic, 'Sum');
  });

  it('notifies AlarmTopicArn from every alarm only when it is set, and outputs the topic then', () => {
    assert.equal(template.Parameters.AlarmTopicArn?.Default, '');
    assert.deepEqual(template.Conditions.HasAlarmTopic, { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }] });
    const whenSet = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };
    const all = alarms(template);
    assert.equal(all.length, 7 + 3 + 1 + 1);
    for (const [name, p] of all) {
      assert.equal((template.Resources[name] as Resource).Condition, undefined, `${name} exists without a topic`);
      assert.deepEqual(p.AlarmActions, whenSet, `${name} AlarmActions`);
      assert.deepEqual(p.OKActions, whenSet, `${name} OKActions`);
    }
    assert.equal(template.Outputs.AlarmTopicArn?.Condition, 'HasAlarmTopic');
    const pattern = new RegExp(String(template.Parameters.AlarmTopicArn!.AllowedPattern));
    assert.ok(pattern.test('arn:aws:sns:eu-west-1:123456789012:podiam-alarms'));
    assert.ok(pattern.test(''));
    assert.ok(!pattern.test('arn:aws:sqs:eu-west-1:123456789012:podiam-alarms'));
  });
});
