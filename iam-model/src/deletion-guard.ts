/**
 * The mass-deletion guard: an empty or wrong bundle must not delete every managed role in one
 * run. A plan that deletes more roles than the stack allows (MaxRoleDeletions, default more than
 * 10; or MaxRoleDeletionPercent, default more than 25 % of the cluster's managed roles) is refused
 * whole — no creates, no updates, no deletes — unless the bundle acknowledges exactly that number
 * of deletions (`podiam publish --acknowledge-deletions N`, covered by the bundle hash).
 * Pure: reconcile refuses with it before applying; `podiam plan` prints the same refusal.
 */
import { PodiamError } from '../../core/src/errors.ts';
import type { CurrentState, Plan } from './plan.ts';
import { isManagedBy } from './plan.ts';

export interface DeletionLimits {
  /** More role deletions than this in one run are refused. */
  maxRoleDeletions: number;
  /** Deleting more than this share (percent) of the cluster's managed roles is refused. */
  maxRoleDeletionPercent: number;
}

export const DEFAULT_DELETION_LIMITS: Readonly<DeletionLimits> = { maxRoleDeletions: 10, maxRoleDeletionPercent: 25 };

export type DeletionVerdict =
  | { kind: 'within-limits'; deletions: number; managed: number | undefined }
  | { kind: 'acknowledged'; deletions: number; managed: number | undefined; exceeded: string[] }
  | { kind: 'refused'; deletions: number; managed: number | undefined; exceeded: string[]; message: string };

/**
 * Which limits `deletions` exceeds. `managed` is the number of managed roles before the run;
 * undefined for a run scoped to a few roles (a drift event), which cannot know the share, so only
 * the count applies there. Integer arithmetic: 3 of 12 is exactly 25 % and passes; 4 of 12 does not.
 * One deletion is never a mass deletion by share: removing one file from a cluster of three roles
 * is routine, and the worst an empty bundle does there is one role (the count limit still applies).
 */
export function exceededLimits(deletions: number, managed: number | undefined, limits: DeletionLimits): string[] {
  const out: string[] = [];
  if (deletions > limits.maxRoleDeletions) out.push(`${deletions} deletions is more than MaxRoleDeletions (${limits.maxRoleDeletions})`);
  if (managed !== undefined && managed > 0 && deletions > 1 && deletions * 100 > limits.maxRoleDeletionPercent * managed) {
    const pct = Math.round((deletions * 1000) / managed) / 10;
    out.push(`${deletions} of ${managed} managed roles (${pct} %) is more than MaxRoleDeletionPercent (${limits.maxRoleDeletionPercent} %)`);
  }
  return out;
}

export function deletionsOf(plan: Pick<Plan, 'changes'>): number {
  // A migration's delete (replacedBy: the earlier name shape, deleted once its successor exists)
  // is a rename, not a lost role: counting it would refuse the first reconcile after an upgrade.
  return plan.changes.filter((c) => c.kind === 'delete-role' && c.replacedBy === undefined).length;
}

/** Managed roles of the cluster as IAM holds them before the run. */
export function managedRoleCount(current: CurrentState, cluster: string, path: string): number {
  return current.roles.filter((r) => isManagedBy(r, cluster, path)).length;
}

export function checkDeletions(deletions: number, managed: number | undefined, limits: DeletionLimits, acknowledged: number | undefined): DeletionVerdict {
  const exceeded = exceededLimits(deletions, managed, limits);
  if (exceeded.length === 0) return { kind: 'within-limits', deletions, managed };
  // Exactly the count: an acknowledgement of 12 does not cover 40 deletions from a later mistake.
  if (acknowledged === deletions) return { kind: 'acknowledged', deletions, managed, exceeded };
  const ack = acknowledged === undefined ? 'the bundle acknowledges no deletions' : `the bundle acknowledges ${acknowledged}, not ${deletions}`;
  return {
    kind: 'refused',
    deletions,
    managed,
    exceeded,
    message: `the plan deletes ${deletions} managed role(s): ${exceeded.join('; ')}, and ${ack}. Nothing was changed. If the deletions are intended, publish again with \`podiam publish --acknowledge-deletions ${deletions}\`; if not, publish the right policies folder.`,
  };
}

export class MassDeletionRefusedError extends PodiamError {
  readonly verdict: Extract<DeletionVerdict, { kind: 'refused' }>;
  constructor(verdict: Extract<DeletionVerdict, { kind: 'refused' }>) {
    super('PODIAM_MASS_DELETION_REFUSED', verdict.message, { status: 409 });
    this.verdict = verdict;
  }
}

/** Throws MassDeletionRefusedError when the verdict is a refusal; returns it otherwise. */
export function guardDeletions(deletions: number, managed: number | undefined, limits: DeletionLimits, acknowledged: number | undefined): DeletionVerdict {
  const verdict = checkDeletions(deletions, managed, limits, acknowledged);
  if (verdict.kind === 'refused') throw new MassDeletionRefusedError(verdict);
  return verdict;
}
