/**
 * Reconcile function: turns the published bundle into the cluster's IAM roles and keeps them
 * right. Triggers: the bundle upload, an hourly schedule, IAM drift events (see events.ts).
 * A failed run throws: Lambda retries it, then EventBridge's DLQ keeps it; runs are idempotent.
 */
import type { Context } from 'aws-lambda';
import { accountIdResolver, createAwsClients, type AccountResolver } from '../lib/aws-clients.ts';
import { loadFunctionsConfig } from '../lib/config.ts';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { reconcile, type ReconcileDeps, type ReconcileSummary } from '../lib/reconcile.ts';
import { requestFor } from './events.ts';

export type ReconcileResult = ReconcileSummary | { ignored: string };

export function createReconcileHandler(deps: ReconcileDeps) {
  return async (event: unknown, _context?: Context): Promise<ReconcileResult> => {
    const decision = requestFor(event, deps.config);
    if (!decision.run) {
      deps.log('info', 'event ignored', { reason: decision.reason });
      return { ignored: decision.reason };
    }
    return reconcile(deps, decision.request);
  };
}

const account: { resolver?: AccountResolver } = {};

function depsFromEnv(log: Logger): ReconcileDeps {
  const config = loadFunctionsConfig();
  const { iam, s3, sts } = createAwsClients(config);
  account.resolver = accountIdResolver(sts, config.accountId);
  return { iam, s3, config, accountId: account.resolver, log };
}

// Built once per cold start. A configuration error is kept and thrown on every invocation,
// so Lambda reports it with its message instead of an opaque init failure.
let built: ReturnType<typeof createReconcileHandler> | undefined;
let initError: unknown;
try {
  built = createReconcileHandler(depsFromEnv(jsonLogger));
} catch (err: unknown) {
  initError = err;
}

export const handler = async (event: unknown, context?: Context): Promise<ReconcileResult> => {
  if (!built) throw initError;
  account.resolver?.learn(context?.invokedFunctionArn);
  return built(event, context);
};
