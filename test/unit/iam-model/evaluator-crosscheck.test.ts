// Our evaluator (cli/src/evaluate) against the reference simulator @cloud-copilot/iam-simulate
// (AGPL-3.0: allowed here, in test/, as a reference only — never imported by shipped code).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument, PolicyStatement } from '../../../iam-model/src/bundle/bundle.ts';
import { evaluate, type Decision } from '../../../iam-model/src/evaluate/evaluate.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const prng = seededRandom;

const REQUESTS: Array<{ action: string; resource: string }> = [
  { action: 's3:GetObject', resource: 'arn:aws:s3:::orders/reports/2026.csv' },
  { action: 's3:GetObject', resource: 'arn:aws:s3:::orders/alice/notes.txt' },
  { action: 's3:GetObject', resource: 'arn:aws:s3:::archive/secret-plan.txt' },
  { action: 's3:PutObject', resource: 'arn:aws:s3:::orders/inbox/1.json' },
  { action: 's3:DeleteObject', resource: 'arn:aws:s3:::orders/inbox/1.json' },
  { action: 's3:ListBucket', resource: 'arn:aws:s3:::orders' },
  { action: 's3:ListBucket', resource: 'arn:aws:s3:::archive' },
  { action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/ledger' },
  { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/ledger' },
  { action: 'dynamodb:Query', resource: 'arn:aws:dynamodb:us-east-1:123456789012:table/ledger/index/by-customer' },
];

const ACTIONS = ['s3:GetObject', 's3:Get*', 's3:*Object', 's3:*', '*', 's3:?etObject', 's3:ListBucket', 'S3:getobject', 'dynamodb:GetItem', 'dynamodb:*', 'dynamodb:*Item', 's3:Put*'];
const RESOURCES = [
  '*',
  'arn:aws:s3:::orders/*',
  'arn:aws:s3:::orders',
  'arn:aws:s3:::ord*',
  'arn:aws:s3:::orders/reports/*',
  'arn:aws:s3:::*/secret*',
  'arn:aws:s3:::orders/${aws:username}/*',
  'arn:aws:s3:::orders/?nbox/*',
  'arn:aws:dynamodb:us-east-1:123456789012:table/ledger',
  'arn:aws:dynamodb:*:*:table/*',
  'arn:aws:dynamodb:us-east-1:123456789012:table/ledger/*',
  'arn:aws:s3:::ARCHIVE/*',
];

type Cond = Record<string, Record<string, string | string[]>>;
const CONDITIONS: Cond[] = [
  { StringEquals: { 'aws:username': 'alice' } },
  { StringNotEquals: { 'aws:username': ['alice', 'bob'] } },
  { StringLike: { 'aws:username': 'a*' } },
  { StringNotLike: { 'aws:username': '?ob' } },
  { StringEqualsIgnoreCase: { 'aws:username': 'ALICE' } },
  { Bool: { 'aws:SecureTransport': 'true' } },
  { BoolIfExists: { 'aws:SecureTransport': 'false' } },
  { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } },
  { NumericGreaterThanEquals: { 'aws:MultiFactorAuthAge': '600' } },
  { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.0.2.0/24'] } },
  { NotIpAddress: { 'aws:SourceIp': '10.1.0.0/16' } },
  { DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } },
  { DateLessThan: { 'aws:CurrentTime': '2026-06-01T00:00:00Z' } },
  { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/podiam/*' } },
  { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/podiam/dev/dev-orders-reader' } },
  { StringEquals: { 'aws:PrincipalAccount': '123456789012' }, Bool: { 'aws:SecureTransport': 'true' } },
  { StringEquals: { 'aws:username': '${aws:PrincipalAccount}' } },
  { 'ForAnyValue:StringEquals': { 'aws:PrincipalOrgPaths': ['o-a1b2c3/r-ab12/ou-ab12-11111111/', 'o-x'] } },
  { 'ForAllValues:StringLike': { 'aws:PrincipalOrgPaths': 'o-a1b2c3/*' } },
  { Null: { 'aws:username': 'false' } },
  { Null: { 'aws:username': 'true' } },
];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function some<T>(rnd: () => number, list: readonly T[], max: number): T[] {
  const n = 1 + Math.floor(rnd() * max);
  return [...new Set(Array.from({ length: n }, () => pick(rnd, list)))];
}

function randomStatement(rnd: () => number, i: number): PolicyStatement {
  const s: PolicyStatement = { Sid: `S${i}`, Effect: rnd() < 0.72 ? 'Allow' : 'Deny' };
  if (rnd() < 0.15) s.NotAction = some(rnd, ACTIONS.filter((a) => a !== '*'), 2);
  else s.Action = some(rnd, ACTIONS, 3);
  if (rnd() < 0.12) s.NotResource = some(rnd, RESOURCES.filter((r) => r !== '*'), 2);
  else s.Resource = some(rnd, RESOURCES, 3);
  if (rnd() < 0.5) s.Condition = pick(rnd, CONDITIONS);
  return s;
}

function randomContext(rnd: () => number): Record<string, string | string[]> {
  return {
    'aws:username': pick(rnd, ['alice', 'bob', 'carol', 'Alice']),
    'aws:SecureTransport': pick(rnd, ['true', 'false']),
    'aws:MultiFactorAuthAge': pick(rnd, ['30', '600', '3600', '7200']),
    'aws:SourceIp': pick(rnd, ['10.1.2.3', '10.2.0.1', '192.0.2.10', '203.0.113.5']),
    'aws:CurrentTime': pick(rnd, ['2025-12-31T23:00:00Z', '2026-03-01T12:00:00Z', '2026-07-01T00:00:00Z']),
    'aws:PrincipalArn': pick(rnd, ['arn:aws:iam::123456789012:role/podiam/dev/dev-orders-reader', 'arn:aws:iam::123456789012:role/other']),
    'aws:PrincipalAccount': '123456789012',
    'aws:PrincipalOrgPaths': pick(rnd, [['o-a1b2c3/r-ab12/ou-ab12-11111111/'], ['o-a1b2c3/r-ab12/', 'o-zzz/r-1/'], ['o-x']]),
  };
}

const toReference: Record<string, Decision> = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' };

describe('the evaluator agrees with the reference simulator', () => {
  it('gives the same decision on 900 generated policies (a third with a permissions boundary) and requests, and says "undecided" only when context is missing', async () => {
    const rnd = prng(20261127);
    let compared = 0;
    let skippedByReference = 0;
    let undecided = 0;
    const disagreements: string[] = [];
    const seen: Record<string, number> = { allowed: 0, explicitDeny: 0, implicitDeny: 0 };
    for (let n = 0; n < 900; n++) {
      const statements = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, i) => randomStatement(rnd, i));
      const policy: PolicyDocument = { Version: '2012-10-17', Statement: statements };
      // A third of the cases also get a permissions boundary.
      const boundary: PolicyDocument | undefined = rnd() < 0.33 ? { Version: '2012-10-17', Statement: [randomStatement(rnd, 9), randomStatement(rnd, 10)] } : undefined;
      const request = pick(rnd, REQUESTS);
      const context = randomContext(rnd);
      const simulation: Simulation = {
        request: { principal: 'arn:aws:iam::123456789012:role/podiam/dev/dev-orders-reader', action: request.action, resource: { resource: request.resource, accountId: '123456789012' }, contextVariables: context },
        identityPolicies: [{ name: 'policy', policy }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(boundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: boundary }] } : {}),
      };
      const reference = await runSimulation(simulation, {});
      if (reference.resultType !== 'single') {
        skippedByReference++;
        continue;
      }
      // Keys the reference dropped as not applicable to the action are absent for it; drop them for us too.
      const ignored = new Set((reference.result.ignoredContextKeys ?? []).map((k) => k.toLowerCase()));
      const ours = evaluate([{ kind: 'identity', name: 'policy', document: policy }, ...(boundary ? [{ kind: 'boundary' as const, name: 'boundary', document: boundary }] : [])], {
        ...request,
        context: Object.fromEntries(Object.entries(context).filter(([k]) => !ignored.has(k.toLowerCase()))),
      });
      if (ours.decision === 'undecided') {
        // Only missing context may make us undecided: every key here was either given or dropped.
        assert.ok(ours.undecidedBy.every((k) => ignored.has(k.toLowerCase())), `undecided without a missing key: ${JSON.stringify({ policy, request, ours })}`);
        undecided++;
        continue;
      }
      compared++;
      const theirs = toReference[reference.overallResult]!;
      seen[theirs] = (seen[theirs] ?? 0) + 1;
      if (ours.decision !== theirs) disagreements.push(JSON.stringify({ policy, request, context, ours: ours.decision, theirs }));
    }
    assert.deepEqual(disagreements.slice(0, 3), [], `${disagreements.length} disagreements`);
    assert.ok(compared >= 600, `compared only ${compared} (reference refused ${skippedByReference}, we were undecided on ${undecided})`);
    // The generated cases must exercise every outcome, or agreeing would prove little.
    for (const [decision, count] of Object.entries(seen)) assert.ok(count >= 60, `only ${count} ${decision} cases`);
    console.log(`evaluator cross-check: ${JSON.stringify(seen)}; ${compared} compared, ${undecided} undecided (missing context), ${skippedByReference} refused by the reference`);
  });
});
