/**
 * Errors only the Lambda functions throw. Each carries a stable code from core/src/errors.ts; the
 * handlers turn the 4xx ones into answers and let the rest propagate, so Lambda records the
 * failure and EventBridge retries the (idempotent) run.
 */
import { PodiamError } from '../../core/src/errors.ts';

export interface RoleFailure {
  roleName: string;
  code: string;
  message: string;
}

export class ReconcileFailedError extends PodiamError {
  readonly failures: RoleFailure[];
  constructor(failures: RoleFailure[]) {
    const first = failures.slice(0, 5).map((f) => `${f.roleName}: ${f.code} ${f.message}`).join('; ');
    super('PODIAM_RECONCILE_FAILED', `${failures.length} role(s) could not be brought to their desired state (${first}); the run fails so EventBridge retries it.`);
    this.failures = failures;
  }
}

export class UnsupportedEventError extends PodiamError {
  constructor(what: string) {
    super('PODIAM_EVENT_UNSUPPORTED', `${what}; send one of the event shapes in events/ of the repository.`);
  }
}

export class RotateRequestError extends PodiamError {
  constructor(problem: string) {
    super(
      'PODIAM_ROTATE_REQUEST_INVALID',
      `${problem}; send detail {cluster, action: 'revoke-sessions' | 'begin-intermediate-rotation' | 'finish-intermediate-rotation' | 'prune-intermediates', ...}.`,
    );
  }
}
