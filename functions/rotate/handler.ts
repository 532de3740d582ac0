/**
 * Rotate function: revokes older sessions of managed roles, rotates the intermediate (node
 * proxy) role without a gap, and drops trust in intermediate roles that no longer exist.
 * A bad request is logged and answered (retrying would not fix it); any other failure throws,
 * so Lambda retries and the DLQ keeps the event.
 */
import type { Context } from 'aws-lambda';
import { PodiamError } from '../../core/src/errors.ts';
import { lambdaEntry } from '../lib/lambda-entry.ts';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionsConfig } from '../lib/config.ts';
import { lambdaReconcileWriter } from '../lib/reconcile-writer.ts';
import { rotate, type RotateDeps, type RotateResult } from '../lib/rotate.ts';
import { scopeOf } from '../lib/rotation-state.ts';
import { rotateRequestFor } from './request.ts';

/** Refusals of the request itself: answered, never retried (a retry would be refused again). */
const REFUSALS = new Set(['PODIAM_ROTATE_REQUEST_INVALID', 'PODIAM_INTERMEDIATE_ROLE_NOT_ALLOWED']);

export type RotateAnswer = RotateResult | { rejected: { code: string; message: string } };

export function createRotateHandler(deps: RotateDeps) {
  return async (event: unknown, _context?: Context): Promise<RotateAnswer> => {
    try {
      const scope = scopeOf(deps.config, await deps.accountId());
      return await rotate(deps, rotateRequestFor(event, deps.config.cluster, scope));
    } catch (err: unknown) {
      if (err instanceof PodiamError && REFUSALS.has(String(err.code))) {
        deps.log('warn', err.message, { code: err.code });
        return { rejected: { code: String(err.code), message: err.message } };
      }
      throw err;
    }
  };
}

/** The reconcile function named by the stack (PODIAM_RECONCILE_FUNCTION_ARN); without it only revoke-sessions works. */
function reconcileWriterOf(config: FunctionsConfig): Pick<RotateDeps, 'reconcileWriter'> {
  if (!config.reconcileFunctionArn) return {};
  // One attempt per call: the writer retries a busy function itself, within its budget.
  const lambda = new LambdaClient({ region: config.region, maxAttempts: 1, ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}) });
  return { reconcileWriter: lambdaReconcileWriter(lambda, config.reconcileFunctionArn) };
}

export const handler = lambdaEntry((deps) => createRotateHandler({ ...deps, ...reconcileWriterOf(deps.config) }));
