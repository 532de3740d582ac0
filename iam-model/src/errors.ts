/**
 * Errors of the IAM model (bundle, desired state, plan, IAM reads), thrown alike under the CLI and
 * the Lambda functions. Each carries a stable code from core/src/errors.ts.
 */
import { errorCodes, PodiamError, type PodiamErrorOptions } from '../../core/src/errors.ts';

export class BundleError extends PodiamError {
  constructor(code: 'PODIAM_BUNDLE_NOT_FOUND' | 'PODIAM_BUNDLE_INVALID', message: string, options: PodiamErrorOptions = {}) {
    super(code, message, options);
  }
}

export class BoundaryMismatchError extends PodiamError {
  constructor(configured: string | undefined, bundled: string) {
    super(
      'PODIAM_BOUNDARY_MISMATCH',
      `the bundle's guardrails name the permissions boundary ${bundled} but the stack sets ${configured ?? 'none'}; the boundary comes only from the stack, so the bundle is refused and no role changes. ${errorCodes.PODIAM_BOUNDARY_MISMATCH.fix}`,
    );
  }
}

/** A bundle attaches a managed policy that the stack's AttachableManagedPolicyArns does not list. */
export class ManagedPolicyNotAllowedError extends PodiamError {
  readonly refused: readonly string[];
  constructor(refused: readonly string[], allowed: readonly string[]) {
    super(
      'PODIAM_MANAGED_POLICY_NOT_ALLOWED',
      `the bundle attaches managed policies the stack does not allow (${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ', …' : ''}; allowed: ${allowed.join(', ') || 'none'}); the whole bundle is refused and no role changes. ${errorCodes.PODIAM_MANAGED_POLICY_NOT_ALLOWED.fix}`,
    );
    this.refused = refused;
  }
}

/** A desired role's name is taken by a role that this cluster does not manage. Reported, never adopted. */
export class RoleNameCollisionError extends PodiamError {
  readonly roleName: string;
  constructor(roleName: string, detail: string, options: PodiamErrorOptions = {}) {
    super(
      'PODIAM_ROLE_NAME_COLLISION',
      `role ${roleName} exists but is not managed by this cluster (${detail}); podiam leaves it alone: rename the service, or delete or rename the other role by hand.`,
      options,
    );
    this.roleName = roleName;
  }
}

export class IamThrottledError extends PodiamError {
  constructor(operation: string, attempts: number, options: PodiamErrorOptions = {}) {
    super('PODIAM_IAM_THROTTLED', `IAM ${operation} was still throttled after ${attempts} attempts; the run fails so EventBridge retries it later.`, options);
  }
}

export class IntermediateRolesMissingError extends PodiamError {
  constructor(arns: readonly string[]) {
    super(
      'PODIAM_INTERMEDIATE_ROLES_MISSING',
      `none of the intermediate roles exists (${arns.join(', ') || 'none configured'}): a trust policy naming only missing principals is refused by IAM; create the node proxy role or correct IntermediateRoleArns.`,
    );
  }
}

/** Names AWS SDK v3 errors the same way everywhere: `name` is the IAM error code. */
export function awsErrorName(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'name' in err && typeof (err as { name: unknown }).name === 'string') {
    return (err as { name: string }).name;
  }
  return undefined;
}

export function isNoSuchEntity(err: unknown): boolean {
  return awsErrorName(err) === 'NoSuchEntityException' || awsErrorName(err) === 'NoSuchEntity';
}

/** What the policy checker is given cannot be read as policies (no folder, a broken guardrails file). */
export class CheckInputError extends PodiamError {
  constructor(code: 'PODIAM_POLICIES_DIR_NOT_FOUND' | 'PODIAM_GUARDRAILS_INVALID', message: string, options: PodiamErrorOptions = {}) {
    super(code, `${message} ${errorCodes[code].fix}`, options);
  }
}
