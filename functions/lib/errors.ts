/**
 * Errors only the Lambda functions throw. Each carries a stable code from core/src/errors.ts; the
 * handlers turn the 4xx ones into answers and let the rest propagate, so Lambda records the
 * failure and EventBridge retries the (idempotent) run.
 */
import { errorCodes, PodiamError, type PodiamErrorOptions } from '../../core/src/errors.ts';

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

/** The rotation state object under state/<cluster>/ is not what the rotate function writes. */
export class RotationStateError extends PodiamError {
  constructor(key: string, problem: string, options: PodiamErrorOptions = {}) {
    super('PODIAM_ROTATION_STATE_INVALID', `rotation state ${key} ${problem}; no trust policy was changed. ${errorCodes.PODIAM_ROTATION_STATE_INVALID.fix}`, options);
  }
}

/** A rotate request names a role that may not become an intermediate role. */
export class IntermediateRoleNotAllowedError extends PodiamError {
  constructor(field: string, reason: string) {
    super('PODIAM_INTERMEDIATE_ROLE_NOT_ALLOWED', `detail.${field}: ${reason}; nothing was changed.`);
  }
}

/** Roles whose other inline policies leave no room for AWSRevokeOlderSessions (IAM: 10,240 characters for all together). */
export class RevokePolicyTooLargeError extends PodiamError {
  readonly roles: readonly { role: string; others: number; needed: number }[];
  constructor(roles: readonly { role: string; others: number; needed: number }[], revoked: number) {
    const first = roles.slice(0, 5).map((r) => `${r.role}: inline policies ${r.others} + revocation ${r.needed} > 10240 characters`).join('; ');
    super('PODIAM_REVOKE_POLICY_TOO_LARGE', `${roles.length} role(s) were NOT revoked (${first}); ${revoked} other role(s) were. ${errorCodes.PODIAM_REVOKE_POLICY_TOO_LARGE.fix}`);
    this.roles = roles;
  }
}
