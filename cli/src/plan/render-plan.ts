/**
 * A plan for people, terraform-like: `+` create, `~` update (with a line diff of the policy in
 * its canonical form, so only semantic changes show), `-` delete. And the same for machines.
 */
import type { PolicyDocument } from '../../../iam-model/src/bundle/bundle.ts';
import type { DesiredState } from '../../../iam-model/src/desired-state.ts';
import type { Change, Plan } from '../../../iam-model/src/plan.ts';
import { canonicalPolicy, type CanonicalPolicy } from '../../../iam-model/src/policy-compare.ts';
import { diffLines } from './line-diff.ts';

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
}

export function summarize(plan: Plan): PlanSummary {
  const updated = new Set(plan.changes.filter((c) => c.kind !== 'create-role' && c.kind !== 'delete-role').map((c) => c.roleName));
  return {
    create: plan.changes.filter((c) => c.kind === 'create-role').length,
    update: updated.size,
    delete: plan.changes.filter((c) => c.kind === 'delete-role').length,
    unchanged: plan.unchanged.length,
  };
}

/** Pretty JSON lines without trailing commas, so adding an element to a list changes one line, not two. */
function pretty(doc: CanonicalPolicy): string[] {
  return JSON.stringify(doc, null, 2)
    .split('\n')
    .map((l) => l.replace(/,$/, ''));
}

function policyDiff(before: CanonicalPolicy | undefined, after: PolicyDocument, partition: string, indent: string): string[] {
  const lines = diffLines(before ? pretty(before) : [], pretty(canonicalPolicy(after, { partition })));
  return lines.map((l) => `${indent}${l.op} ${l.text}`);
}

function renderChange(change: Change, partition: string): string[] {
  const pad = '        ';
  switch (change.kind) {
    case 'create-role': {
      const r = change.role;
      return [
        `  + role ${r.name} (${r.file})${change.migratesFrom ? `, migrates ${change.migratesFrom} (deleted once this exists)` : ''}`,
        `${pad}path ${r.path}, max session ${r.maxSessionDuration} s${r.permissionsBoundaryArn ? `, boundary ${r.permissionsBoundaryArn}` : ''}`,
        ...r.managedPolicyArns.map((a) => `${pad}+ managed policy ${a}`),
        `${pad}inline policy ${r.inlinePolicyName}:`,
        ...policyDiff(undefined, r.inlinePolicy, partition, pad),
      ];
    }
    case 'delete-role':
      return [`  - role ${change.roleName}: ${change.reason}`];
    case 'put-inline-policy':
      return [`  ~ role ${change.roleName}: inline policy ${change.policyName} (${change.reason})`, ...policyDiff(change.before, change.after, partition, pad)];
    case 'update-trust':
      return [`  ~ role ${change.roleName}: trust policy (${change.reason})`, ...policyDiff(change.before, change.after, partition, pad)];
    case 'delete-inline-policy':
      return [`  ~ role ${change.roleName}: - inline policy ${change.policyName} (${change.reason})`];
    case 'attach-managed-policy':
      return [`  ~ role ${change.roleName}: + managed policy ${change.policyArn}`];
    case 'detach-managed-policy':
      return [`  ~ role ${change.roleName}: - managed policy ${change.policyArn}`];
    case 'tag-role':
      return [`  ~ role ${change.roleName}: tags ${Object.entries(change.tags).map(([k, v]) => `${k}=${v}`).join(', ')}`];
    case 'update-role':
      return [`  ~ role ${change.roleName}: ${change.reason}`];
    case 'put-boundary':
      return [`  ~ role ${change.roleName}: permissions boundary → ${change.boundaryArn} (${change.reason})`];
    case 'put-intermediate-policy':
      return [`  ~ intermediate role ${change.roleArn}: inline policy ${change.policyName} (${change.reason})`, ...policyDiff(undefined, change.after, partition, pad)];
  }
}

export function renderPlanHuman(desired: DesiredState, plan: Plan): string {
  const partition = desired.account.partition;
  const out: string[] = [`podiam plan: cluster ${desired.cluster}, account ${desired.account.accountId}, ${desired.roles.length} services, bundle sha256 ${desired.bundleHash.slice(0, 12)}`, ''];
  for (const change of plan.changes) out.push(...renderChange(change, partition));
  for (const c of plan.collisions) out.push(`  ! role ${c.roleName} (${c.file}): ${c.reason}; rename the service or remove the other role`);
  for (const note of plan.notes) out.push(`  note: ${note}`);
  const s = summarize(plan);
  if (plan.changes.length || plan.collisions.length || plan.notes.length) out.push('');
  out.push(plan.changes.length === 0 ? `No changes. ${s.unchanged} roles match the policies.` : `Plan: ${s.create} to create, ${s.update} to update, ${s.delete} to delete; ${s.unchanged} unchanged.`);
  return `${out.join('\n')}\n`;
}

export function renderPlanJson(desired: DesiredState, plan: Plan): string {
  return `${JSON.stringify({ cluster: desired.cluster, accountId: desired.account.accountId, bundleHash: desired.bundleHash, summary: summarize(plan), changes: plan.changes, collisions: plan.collisions, notes: plan.notes, unchanged: plan.unchanged }, null, 2)}\n`;
}
