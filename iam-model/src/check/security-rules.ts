/** Security warnings in the spirit of IAM Access Analyzer and parliament. */
import type { CatalogAction } from '../catalog/iam-catalog.ts';
import { actionMatches } from '../evaluate/glob.ts';
import { valuesAt, type FileContext, type StatementView } from './context.ts';

/**
 * Sets of actions that together let a principal raise its own privileges (Rhino Security Labs'
 * list, as used by parliament). Any one complete set is reported.
 */
export const ESCALATION_SETS: readonly (readonly string[])[] = [
  ['iam:CreatePolicyVersion'],
  ['iam:SetDefaultPolicyVersion'],
  ['iam:CreateAccessKey'],
  ['iam:CreateLoginProfile'],
  ['iam:UpdateLoginProfile'],
  ['iam:AttachUserPolicy'],
  ['iam:AttachGroupPolicy'],
  ['iam:AttachRolePolicy'],
  ['iam:PutUserPolicy'],
  ['iam:PutGroupPolicy'],
  ['iam:PutRolePolicy'],
  ['iam:AddUserToGroup'],
  ['iam:UpdateAssumeRolePolicy', 'sts:AssumeRole'],
  ['iam:PassRole', 'ec2:RunInstances'],
  ['iam:PassRole', 'lambda:CreateFunction', 'lambda:InvokeFunction'],
  ['iam:PassRole', 'lambda:CreateFunction', 'lambda:CreateEventSourceMapping'],
  ['lambda:UpdateFunctionCode'],
  ['iam:PassRole', 'glue:CreateDevEndpoint'],
  ['glue:UpdateDevEndpoint'],
  ['iam:PassRole', 'cloudformation:CreateStack'],
  ['iam:PassRole', 'datapipeline:CreatePipeline', 'datapipeline:PutPipelineDefinition'],
  ['iam:PassRole', 'ecs:RunTask'],
  ['ssm:SendCommand'],
];

const WRITE_LEVELS = new Set(['Write', 'Permissions management', 'Tagging']);

function allowsAction(view: StatementView, action: string): boolean {
  if (view.stmt.Effect !== 'Allow') return false;
  if (view.stmt.Action !== undefined) return valuesAt(view, 'Action').some((a) => actionMatches(a.value, action));
  // A broken NotAction list (the schema reports it) cannot tell what it leaves allowed.
  if (view.broken.has('NotAction')) return false;
  return !valuesAt(view, 'NotAction').some((a) => actionMatches(a.value, action));
}

function onStar(view: StatementView): boolean {
  return view.stmt.NotResource !== undefined || valuesAt(view, 'Resource').some((r) => r.value === '*');
}

export function securityRules(ctx: FileContext): void {
  for (const view of ctx.statements) {
    if (view.stmt.Effect !== 'Allow') continue;
    if (view.stmt.NotAction !== undefined) {
      ctx.report('PODIAM_CHECK_ALLOW_NOT', [...view.path, 'NotAction'], `statement ${view.label} allows every action except the listed ones, including actions AWS adds later; list the allowed actions with Action instead.`);
    }
    if (view.stmt.NotResource !== undefined) {
      ctx.report('PODIAM_CHECK_ALLOW_NOT', [...view.path, 'NotResource'], `statement ${view.label} allows its actions on every resource except the listed ones; list the allowed resources with Resource instead.`);
    }
    if (!onStar(view)) continue;
    if (allowsAction(view, 'iam:PassRole')) {
      const at = valuesAt(view, 'Action').find((a) => actionMatches(a.value, 'iam:PassRole'));
      ctx.report('PODIAM_CHECK_PASSROLE_STAR', at?.path ?? view.path, `statement ${view.label} allows iam:PassRole on every role, which lets the service hand any role (even an administrator's) to AWS services; name the role ARNs it passes, and add an iam:PassedToService condition.`);
    }
    // A condition (a namespace, a tag, a region) is how actions like cloudwatch:PutMetricData are
    // scoped on "*": not a finding then.
    const writes = new Map<string, CatalogAction>();
    if (view.stmt.Condition !== undefined) continue;
    for (const a of valuesAt(view, 'Action')) {
      if (a.value === '*') continue;
      for (const action of ctx.catalog.expandAction(a.value)) {
        // Actions without resource types can only ever be granted on "*": not a finding.
        if (WRITE_LEVELS.has(action.accessLevel) && action.resourceTypes.length > 0 && action.id !== 'iam:PassRole') writes.set(action.id, action);
      }
    }
    if (writes.size) {
      const names = [...writes.keys()].sort();
      const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
      const at = valuesAt(view, 'Resource').find((r) => r.value === '*');
      ctx.report('PODIAM_CHECK_WRITE_ON_STAR', at?.path ?? view.path, `statement ${view.label} allows write actions (${shown}) on every resource; name the resources they may change.`);
    }
  }

  for (const set of ESCALATION_SETS) {
    const granting = set.map((action) => ctx.statements.find((v) => allowsAction(v, action)));
    if (granting.every((v) => v !== undefined)) {
      const first = granting[0]!;
      ctx.report('PODIAM_CHECK_PRIVILEGE_ESCALATION', first.path, `the policy allows ${set.join(' + ')}, which can be used to gain more privileges than the policy grants; remove ${set.length > 1 ? 'one of them' : 'it'} or restrict it to specific resources.`);
    }
  }
}
