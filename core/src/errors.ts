/**
 * Every failure podiam reports carries a stable `code` (match on it, never on the message)
 * and a message that says what to do. One table lists them all, so docs/troubleshooting.md
 * and the tests can check that each code is documented.
 */
export const errorCodes = {
  PODIAM_CONFIG_INVALID: { status: 500, fix: 'Correct the named setting and restart.' },
  PODIAM_ROLE_NAME_INVALID: { status: 400, fix: 'Use a DNS-1123 label for namespace and service names.' },
  PODIAM_ROLE_ANNOTATION_INVALID: { status: 403, fix: 'Set iam.amazonaws.com/role to a service name or a full IAM role ARN.' },
  PODIAM_ROLE_NOT_PERMITTED: { status: 403, fix: "Use the namespace's own service role, or widen the namespace with iam.amazonaws.com/allowed-roles or iam.amazonaws.com/permitted." },
  PODIAM_ROLE_OF_OTHER_NAMESPACE: { status: 403, fix: "A pod may only use its own namespace's managed roles; add policies/<namespace>/<service>.json for this namespace instead." },
  PODIAM_ACCOUNT_NOT_ALLOWED: { status: 403, fix: 'Add the account to the allowed accounts list (PODIAM_ALLOWED_ACCOUNTS / allowedAccounts) if it is trusted.' },
  PODIAM_SESSION_TTL_INVALID: { status: 403, fix: 'Set iam.amazonaws.com/session-ttl to a duration such as 900s, 15m or 1h (at most 1h).' },
  PODIAM_NAMESPACE_ANNOTATION_INVALID: { status: 403, fix: 'Fix the namespace annotation: allowed-roles must be a JSON array of strings, permitted a valid regular expression.' },
} as const satisfies Record<string, { status: number; fix: string }>;

export type ErrorCode = keyof typeof errorCodes | (string & {});

export interface PodiamErrorOptions {
  cause?: unknown;
  /** HTTP status for adapters that answer over HTTP. */
  status?: number;
}

/** Base class: `name` is the subclass name, `code` is stable, `message` ends with what to do. */
export class PodiamError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options: PodiamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    const known = (errorCodes as Record<string, { status: number }>)[code];
    this.status = options.status ?? known?.status ?? 500;
  }
}

export class ConfigError extends PodiamError {
  constructor(setting: string, problem: string, fix: string, options: PodiamErrorOptions = {}) {
    super('PODIAM_CONFIG_INVALID', `${setting}: ${problem}. ${fix}`, options);
  }
}

/** Narrows an unknown thrown value to something with a message, for logs. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof PodiamError) return { code: String(err.code), message: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : err.name, message: err.message };
  }
  return { code: 'UNKNOWN', message: String(err) };
}
