/**
 * Rotate function: revokes older sessions of managed roles, rotates the intermediate (node
 * proxy) role without a gap, and drops trust in intermediate roles that no longer exist.
 * A bad request is logged and answered (retrying would not fix it); any other failure throws,
 * so Lambda retries and the DLQ keeps the event.
 */
import type { Context } from 'aws-lambda';
import { PodiamError } from '../../core/src/errors.ts';
import { lambdaEntry } from '../lib/lambda-entry.ts';
import type { ReconcileDeps } from '../lib/reconcile.ts';
import { rotate, type RotateResult } from '../lib/rotate.ts';
import { rotateRequestFor } from './request.ts';

export type RotateAnswer = RotateResult | { rejected: { code: string; message: string } };

export function createRotateHandler(deps: ReconcileDeps) {
  return async (event: unknown, _context?: Context): Promise<RotateAnswer> => {
    try {
      return await rotate(deps, rotateRequestFor(event, deps.config.cluster));
    } catch (err: unknown) {
      if (err instanceof PodiamError && err.code === 'PODIAM_ROTATE_REQUEST_INVALID') {
        deps.log('warn', err.message, { code: err.code });
        return { rejected: { code: String(err.code), message: err.message } };
      }
      throw err;
    }
  };
}

export const handler = lambdaEntry(createRotateHandler);
