/**
 * The CLI's failures (not findings: a finding is a problem in a policy file, reported as a value).
 * Codes, fixes and exit codes come from the one table in core/src/errors.ts; main.ts turns them
 * into one line on stderr and that exit code.
 */
import { errorCodes, exitCodeOf, PodiamError } from '../../core/src/errors.ts';

export type CliErrorCode = 'PODIAM_CLI_USAGE' | 'PODIAM_POLICIES_DIR_NOT_FOUND' | 'PODIAM_GUARDRAILS_INVALID' | 'PODIAM_CHECK_FAILED' | 'PODIAM_PUBLISH_FAILED' | 'PODIAM_CLI_UNEXPECTED' | 'PODIAM_PLAN_FAILED' | 'PODIAM_UNINSTALL_FAILED';

export class CliError extends PodiamError {
  readonly exitCode: number;
  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, `${message} ${errorCodes[code].fix}`, options);
    this.exitCode = exitCodeOf(code);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super('PODIAM_CLI_USAGE', message);
  }
}
