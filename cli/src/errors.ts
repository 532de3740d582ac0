/**
 * The CLI's failures (not findings: a finding is a problem in a policy file, reported as a value).
 * Each carries a stable code; main.ts turns them into one line on stderr and an exit code.
 */
import { PodiamError } from '../../core/src/errors.ts';

export const cliErrorCodes = {
  PODIAM_CLI_USAGE: { exit: 2, fix: 'Run `podiam help` for the commands and their options.' },
  PODIAM_POLICIES_DIR_NOT_FOUND: { exit: 2, fix: 'Pass the policies folder, e.g. `podiam check policies`.' },
  PODIAM_GUARDRAILS_INVALID: { exit: 1, fix: 'Fix policies/guardrails.json (see the message), or pass another file with --guardrails.' },
  PODIAM_BUNDLE_INVALID: { exit: 1, fix: 'Publish the bundle again with `podiam publish`; never edit a bundle by hand.' },
  PODIAM_CHECK_FAILED: { exit: 1, fix: 'Fix the errors that `podiam check` lists, then publish again.' },
  PODIAM_PUBLISH_FAILED: { exit: 1, fix: 'Check the bucket name, its region and the AWS credentials in the environment.' },
  PODIAM_CLI_UNEXPECTED: { exit: 1, fix: 'The cause is named above; if it is not a file permission or disk problem, report it as a podiam bug.' },
  PODIAM_PLAN_FAILED: { exit: 1, fix: 'Check the AWS credentials in the environment: plan needs IAM read access (iam:Get*, iam:List*, including iam:GetAccountAuthorizationDetails) and sts:GetCallerIdentity, nothing more.' },
} as const;

export type CliErrorCode = keyof typeof cliErrorCodes;

export class CliError extends PodiamError {
  readonly exitCode: number;
  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, `${message} ${cliErrorCodes[code].fix}`, options);
    this.exitCode = cliErrorCodes[code].exit;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super('PODIAM_CLI_USAGE', message);
  }
}
