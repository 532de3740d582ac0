// Reads template.yaml (decoded by cfn-lint's own loader, so intrinsic functions come back as
// Fn::Sub / Ref / Fn::If objects) and resolves one function's `Policies` statements for given
// parameters into a plain IAM policy document, to be checked with the reference simulator.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { requireTool } from '../../peers/index.ts';

export interface TemplateParams {
  ClusterName: string;
  IntermediateRoleArns: string[];
  PermissionsBoundaryArn: string;
  /** '' or the acknowledgement; default ''. */
  AllowNoPermissionsBoundary?: string;
  /** Default [] (the parameter's default, an empty list). */
  AttachableManagedPolicyArns?: string[];
  /** Default arn:aws:iam::<AccountId>:role/podiam-publisher. */
  PublisherRoleArn?: string;
  /** '' (the default: bundles need no signature) or a KMS key ARN. */
  BundleSigningKeyArn?: string;
  BundleKey: string;
  /** The bucket's name (BundleBucket resolves to it and to its ARN). */
  BundleBucketName: string;
  AccountId: string;
}

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

export function loadTemplate(): Record<string, unknown> {
  const python = requireTool('python');
  const out = execFileSync(python, ['-c', 'import json,sys\nfrom cfnlint.decode import decode\nt,m=decode(sys.argv[1])\nassert not m, m\nprint(json.dumps(t, default=str))', path.join(repo, 'template.yaml')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out) as Record<string, unknown>;
}

const NO_VALUE = Symbol('AWS::NoValue');

function resolve(value: unknown, p: TemplateParams): unknown {
  const refs: Record<string, unknown> = {
    ClusterName: p.ClusterName,
    IntermediateRoleArns: p.IntermediateRoleArns,
    PermissionsBoundaryArn: p.PermissionsBoundaryArn,
    AllowNoPermissionsBoundary: p.AllowNoPermissionsBoundary ?? '',
    AttachableManagedPolicyArns: p.AttachableManagedPolicyArns ?? [],
    PublisherRoleArn: p.PublisherRoleArn ?? `arn:aws:iam::${p.AccountId}:role/podiam-publisher`,
    'RotateFunctionRole.Arn': `arn:aws:iam::${p.AccountId}:role/podiam-RotateFunctionRole`,
    BundleSigningKeyArn: p.BundleSigningKeyArn ?? '',
    BundleKey: p.BundleKey,
    BundleBucket: p.BundleBucketName,
    'AWS::Partition': 'aws',
    'AWS::AccountId': p.AccountId,
    'AWS::Region': 'us-east-1',
    'BundleBucket.Arn': `arn:aws:s3:::${p.BundleBucketName}`,
    'ReconcileFunction.Arn': `arn:aws:lambda:us-east-1:${p.AccountId}:function:podiam-ReconcileFunction`,
  };
  const conditions: Record<string, boolean> = { HasBoundary: p.PermissionsBoundaryArn !== '', HasAttachableManagedPolicies: (p.AttachableManagedPolicyArns ?? []).join(',') !== '', HasBundleSigningKey: (p.BundleSigningKeyArn ?? '') !== '' };
  if (Array.isArray(value)) {
    return value.map((v) => resolve(v, p)).filter((v) => v !== NO_VALUE).flatMap((v) => (Array.isArray(v) ? v : [v]));
  }
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if ('Ref' in o) {
    if (o.Ref === 'AWS::NoValue') return NO_VALUE;
    if (!(String(o.Ref) in refs)) throw new Error(`unresolved Ref ${String(o.Ref)}`);
    return refs[String(o.Ref)];
  }
  if ('Fn::Sub' in o) {
    return String(o['Fn::Sub']).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (!(name in refs)) throw new Error(`unresolved \${${name}}`);
      return String(refs[name]);
    });
  }
  if ('Fn::GetAtt' in o) {
    const [res, att] = o['Fn::GetAtt'] as [string, string];
    const key = `${res}.${att}`;
    if (!(key in refs)) throw new Error(`unresolved GetAtt ${key}`);
    return refs[key];
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown];
    return (resolve(parts, p) as unknown[]).join(sep);
  }
  if ('Fn::Equals' in o) {
    const [a, b] = resolve(o['Fn::Equals'], p) as [unknown, unknown];
    return a === b;
  }
  if ('Fn::Not' in o) return !(resolve(o['Fn::Not'], p) as boolean[])[0];
  if ('Fn::Or' in o) return (resolve(o['Fn::Or'], p) as boolean[]).some(Boolean);
  if ('Fn::And' in o) return (resolve(o['Fn::And'], p) as boolean[]).every(Boolean);
  if ('Fn::If' in o) {
    const [cond, yes, no] = o['Fn::If'] as [string, unknown, unknown];
    return resolve(conditions[cond] ? yes : no, p);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const r = resolve(v, p);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

/** The resolved identity policy of one function (its `Policies` statements). */
export function functionPolicy(template: Record<string, unknown>, logicalId: string, params: TemplateParams): { Version: string; Statement: unknown[] } {
  const resources = template.Resources as Record<string, { Properties: { Policies: { Statement: unknown[] }[] } }>;
  const statements = resources[logicalId]!.Properties.Policies.flatMap((p) => p.Statement);
  return { Version: '2012-10-17', Statement: resolve(statements, params) as unknown[] };
}

/**
 * The template's Rules assertions that fail for these parameters (their AssertDescription), as
 * CloudFormation evaluates them before it creates or updates anything.
 */
export function failingRules(template: Record<string, unknown>, params: TemplateParams): string[] {
  const rules = (template.Rules ?? {}) as Record<string, { RuleCondition?: unknown; Assertions: { Assert: unknown; AssertDescription?: string }[] }>;
  const failed: string[] = [];
  for (const [name, rule] of Object.entries(rules)) {
    if (rule.RuleCondition !== undefined && resolve(rule.RuleCondition, params) !== true) continue;
    for (const a of rule.Assertions) {
      if (resolve(a.Assert, params) !== true) failed.push(`${name}: ${a.AssertDescription ?? ''}`);
    }
  }
  return failed;
}

/** The resolved policy document of a resource that has one (an AWS::S3::BucketPolicy). */
export function resourcePolicy(template: Record<string, unknown>, logicalId: string, params: TemplateParams): { Version: string; Statement: unknown[] } {
  const resources = template.Resources as Record<string, { Properties: { PolicyDocument: unknown } }>;
  return resolve(resources[logicalId]!.Properties.PolicyDocument, params) as { Version: string; Statement: unknown[] };
}
