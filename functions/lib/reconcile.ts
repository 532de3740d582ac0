/**
 * One reconcile run: read the bundle, the rotation state and IAM; build the desired state;
 * diff; apply. Nothing to change → zero IAM writes. Collisions are reported (retrying would not
 * help); any other failure fails the run after the rest was applied, so EventBridge retries it.
 */
import type { IAMClient } from '@aws-sdk/client-iam';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { applyPlan } from './apply.ts';
import { refuseBundleBreakingGuardrails } from './bundle-guard.ts';
import { verifierFor } from './bundle-signature.ts';
import { loadBundle } from './bundle-source.ts';
import type { FunctionsConfig } from './config.ts';
import { ReconcileFailedError } from './errors.ts';
import type { Logger } from './log.ts';
import { emfMetrics, type MetricSink } from './metrics.ts';
import { countByKind, type ChangeKind, type Collision } from '../../iam-model/src/plan.ts';
import { planCluster } from '../../iam-model/src/plan-cluster.ts';
import { DEFAULT_DELETION_LIMITS, deletionsOf, guardDeletions, managedRoleCount } from '../../iam-model/src/deletion-guard.ts';
import { readRotationState, scopeOf, trustedIntermediateArns } from './rotation-state.ts';

export interface ReconcileDeps {
  iam: IAMClient;
  s3: S3Client;
  /** Verifies the bundle's signature when config.bundleSigningKeyArn is set (required then). */
  kms?: KMSClient;
  config: FunctionsConfig;
  accountId: () => Promise<string>;
  log: Logger;
  /** CloudWatch metrics; default EMF lines on stdout. */
  metric?: MetricSink;
  /** See ReadOptions.strategy; default 'bulk'. */
  readStrategy?: 'bulk' | 'per-role';
}

export interface ReconcileRequest {
  trigger: string;
  /** Only these role names (drift on one role); undefined: the whole cluster. */
  scope?: string[];
}

export interface ReconcileSummary {
  trigger: string;
  bundleHash: string;
  scope: string[] | 'cluster';
  planned: Partial<Record<ChangeKind, number>>;
  applied: number;
  unchanged: number;
  collisions: Collision[];
  notes: string[];
}

export async function reconcile(deps: ReconcileDeps, request: ReconcileRequest): Promise<ReconcileSummary> {
  const { config, iam, log } = deps;
  const accountId = await deps.accountId();
  const verify = verifierFor(config, deps.kms);
  const [loaded, rotation] = await Promise.all([
    // With a signing key, a bundle KMS does not confirm is refused here, before IAM is read.
    loadBundle(deps.s3, { bucket: config.bundleBucket, key: config.bundleKey }, undefined, undefined, verify),
    readRotationState(deps.s3, config.bundleBucket, config.stateKey, scopeOf(config, accountId)),
  ]);
  const bundle = loaded!.bundle;
  // Before IAM is even read: a bundle that breaks its guardrails changes nothing.
  refuseBundleBreakingGuardrails(bundle, 'reconcile', log, deps.metric ?? emfMetrics);
  const wanted = trustedIntermediateArns(config.intermediateRoleArns, rotation);
  const { plan, current, desired } = await planCluster(iam, bundle, {
    cluster: config.cluster,
    accountId,
    intermediateRoleArns: wanted,
    managedIntermediateArns: config.intermediateRoleArns,
    foreignIntermediateArns: config.foreignIntermediateRoleArns,
    permissionsBoundaryArn: config.permissionsBoundaryArn,
    attachableManagedPolicyArns: config.attachableManagedPolicyArns,
    trustExternalId: config.trustExternalId,
    scope: request.scope,
    readStrategy: deps.readStrategy,
  });
  // Before any write: a plan deleting more roles than the stack allows is refused whole (creates
  // and updates too), so an empty or wrong bundle changes nothing until someone acknowledges it.
  // A drift run (scope) cannot know the cluster's share; only the count limit applies to it.
  const deletion = guardDeletions(
    deletionsOf(plan),
    request.scope ? undefined : managedRoleCount(current, desired.cluster, desired.path),
    config.deletionLimits ?? DEFAULT_DELETION_LIMITS,
    bundle.acknowledgeDeletions,
  );
  if (deletion.kind === 'acknowledged') log('warn', 'mass deletion acknowledged by the bundle', { deletions: deletion.deletions, managed: deletion.managed, exceeded: deletion.exceeded });
  for (const note of plan.notes) log('warn', note, { cluster: config.cluster });
  const result = await applyPlan(iam, plan.changes, {
    cluster: config.cluster,
    log: (entry) => log('info', String(entry.msg), entry),
  });
  const collisions = [...plan.collisions, ...result.collisions];
  for (const c of collisions) {
    log('warn', c.reason, { code: 'PODIAM_ROLE_NAME_COLLISION', role: c.roleName, file: c.file, existing: c.existingArn });
  }
  const summary: ReconcileSummary = {
    trigger: request.trigger,
    bundleHash: bundle.hash,
    scope: request.scope ?? 'cluster',
    planned: countByKind(plan.changes),
    applied: result.applied.length,
    unchanged: plan.unchanged.length,
    collisions,
    notes: plan.notes,
  };
  if (result.failures.length) {
    for (const f of result.failures) log('error', f.message, { code: f.code, role: f.roleName });
    throw new ReconcileFailedError(result.failures);
  }
  log('info', 'reconcile done', { ...summary, collisions: collisions.length });
  return summary;
}
