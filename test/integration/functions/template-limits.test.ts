// Issue 10 items 6 and 7, as the stack states them: the public admission endpoint is bounded by
// reserved concurrency, every function writes to a log group with retention, and the admission
// function is given only the hash of the webhook secret. template.yaml is read with cfn-lint's own
// loader (the python peer), so intrinsic functions come back as Ref objects; sam.test.ts proves the
// same file passes `sam validate --lint`.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadTemplate } from './template-policy.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
let resources: Record<string, Resource>;
let parameters: Record<string, Record<string, unknown>>;

before(() => {
  const t = loadTemplate() as { Resources: Record<string, Resource>; Parameters: Record<string, Record<string, unknown>> };
  resources = t.Resources;
  parameters = t.Parameters;
});

function fn(name: string): Record<string, unknown> {
  const r = resources[name];
  assert.ok(r, `${name} exists`);
  assert.equal(r.Type, 'AWS::Serverless::Function');
  return r.Properties;
}

describe('template: bounded admission endpoint and log retention', () => {
  it('reserves (and so caps) the admission function’s concurrency from a parameter that defaults to 10', () => {
    assert.deepEqual(fn('AdmissionFunction').ReservedConcurrentExecutions, { Ref: 'AdmissionReservedConcurrency' });
    const p = parameters.AdmissionReservedConcurrency!;
    assert.equal(p.Type, 'Number');
    assert.equal(Number(p.Default), 10);
    assert.ok(Number(p.MinValue) >= 1, 'zero would switch the webhook off');
  });

  it('keeps the reconcile and rotate functions at one concurrent run', () => {
    assert.equal(Number(fn('ReconcileFunction').ReservedConcurrentExecutions), 1);
    assert.equal(Number(fn('RotateFunction').ReservedConcurrentExecutions), 1);
  });

  for (const name of ['ReconcileFunction', 'AdmissionFunction', 'RotateFunction']) {
    it(`sends ${name}’s logs to a log group of the stack with the LogRetentionDays retention`, () => {
      const logging = fn(name).LoggingConfig as { LogGroup?: { Ref?: string } } | undefined;
      const groupName = logging?.LogGroup?.Ref;
      assert.ok(groupName, `${name} has LoggingConfig.LogGroup: !Ref <a log group>`);
      const group = resources[groupName]!;
      assert.equal(group?.Type, 'AWS::Logs::LogGroup');
      assert.deepEqual(group.Properties.RetentionInDays, { Ref: 'LogRetentionDays' });
    });
  }

  it('defaults log retention to 30 days', () => {
    assert.equal(Number(parameters.LogRetentionDays!.Default), 30);
  });

  it('gives the admission function only the SHA-256 of the webhook secret, never the secret', () => {
    const env = (fn('AdmissionFunction').Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env.PODIAM_WEBHOOK_SECRET_SHA256, { Ref: 'WebhookSecretSha256' });
    assert.ok(!('PODIAM_WEBHOOK_SECRET' in env));
    assert.equal(parameters.WebhookSecretSha256!.AllowedPattern, '^[0-9a-f]{64}$');
    assert.ok(!('WebhookSecret' in parameters), 'no parameter carries the secret itself');
  });
});
