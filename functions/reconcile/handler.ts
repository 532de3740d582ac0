/**
 * Reconcile function: turns the published bundle into the cluster's IAM roles and keeps them
 * right. Triggers: the bundle upload, an hourly schedule, IAM drift events (see events.ts).
 * A failed run throws: Lambda retries it, then EventBridge's DLQ keeps it; runs are idempotent.
 */
import type { Context } from 'aws-lambda';
import { lambdaEntry } from '../lib/lambda-entry.ts';
import { reconcile, type ReconcileDeps, type ReconcileSummary } from '../lib/reconcile.ts';
import { readRotationState, scopeOf } from '../lib/rotation-state.ts';
import { needsRotationState, requestFor } from './events.ts';

export type ReconcileResult = ReconcileSummary | { ignored: string };

export function createReconcileHandler(deps: ReconcileDeps) {
  return async (event: unknown, _context?: Context): Promise<ReconcileResult> => {
    let decision = requestFor(event, deps.config);
    if (!decision.run && needsRotationState(event, deps.config)) {
      const { config } = deps;
      const rotation = await readRotationState(deps.s3, config.bundleBucket, config.stateKey, scopeOf(config, await deps.accountId()));
      decision = requestFor(event, config, rotation.added);
    }
    if (!decision.run) {
      deps.log('info', 'event ignored', { reason: decision.reason });
      return { ignored: decision.reason };
    }
    return reconcile(deps, decision.request);
  };
}

export const handler = lambdaEntry(createReconcileHandler);
