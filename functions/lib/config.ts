/**
 * The functions' settings, read from the environment once per cold start and validated with
 * the fix in each message (ConfigError, PODIAM_CONFIG_INVALID).
 *
 * The webhook secret itself never reaches the function: the stack passes only its SHA-256
 * (WebhookSecretSha256 → PODIAM_WEBHOOK_SECRET_SHA256), so anyone who can read the function's
 * configuration (ReadOnlyAccess includes lambda:GetFunctionConfiguration) learns a hash of a
 * 256-bit random value, which does not let them call the webhook. Checking it costs one hash per
 * request and no network call in a cold start that must answer the API server within 5 s.
 */
import { createHash } from 'node:crypto';
import { ConfigError } from '../../core/src/errors.ts';
import { CLUSTER_NAME_RULE, clusterNameProblem, isClusterName, parseRoleArn } from '../../core/src/naming.ts';
import { DEFAULT_DELETION_LIMITS, type DeletionLimits } from '../../iam-model/src/deletion-guard.ts';

export interface FunctionsConfig {
  cluster: string;
  intermediateRoleArns: string[];
  /**
   * Role ARNs outside the stack's account that a rotation may add as intermediate roles (the
   * stack's ForeignIntermediateRoleArns; empty by default). See iam-model/src/intermediate-arns.ts.
   */
  foreignIntermediateRoleArns?: string[];
  /** The stack's partition (PODIAM_PARTITION, from AWS::Partition); default aws. */
  partition?: string;
  /** Rotate only: the reconcile function it asks for runs (PODIAM_RECONCILE_FUNCTION_ARN). */
  reconcileFunctionArn?: string;
  permissionsBoundaryArn?: string;
  /**
   * The managed policies a bundle may attach (the stack's AttachableManagedPolicyArns); a bundle
   * naming any other is refused whole. Empty: no attachments at all.
   */
  attachableManagedPolicyArns: string[];
  bundleBucket: string;
  bundleKey: string;
  /** S3 key of the intermediate-role rotation state (in the bundle bucket). */
  stateKey: string;
  trustExternalId?: string;
  region: string;
  /** Only for tests and local runs (moto): every AWS client talks to this endpoint. */
  awsEndpoint?: string;
  /** Skips sts:GetCallerIdentity when set. */
  accountId?: string;
  /**
   * Accounts whose role ARNs a namespace may permit (the proxy's PODIAM_ALLOWED_ACCOUNTS).
   * Unset: admission does not know the list and leaves that check to the proxy.
   */
  allowedAccounts?: string[];
  /** Reconcile's own execution role: its CloudTrail events are not drift. */
  selfRoleArn?: string;
  /** The mass-deletion guard's limits (MaxRoleDeletions, MaxRoleDeletionPercent); unset: the defaults. */
  deletionLimits?: DeletionLimits;
  /**
   * The asymmetric KMS key that must have signed the bundle (the stack's BundleSigningKeyArn,
   * PODIAM_BUNDLE_SIGNING_KEY_ARN). Unset: bundles need no signature (see functions/lib/bundle-signature.ts).
   */
  bundleSigningKeyArn?: string;
}

export interface AdmissionConfig extends FunctionsConfig {
  /** SHA-256 of the webhook secret, 64 lower-case hex characters; the secret itself is never configured. */
  webhookSecretSha256: string;
  /** Time the admission answer may take, all IAM work included. */
  budgetMs: number;
  /** How long a read bundle is trusted before S3 is asked again (conditional GET). */
  bundleCacheMs: number;
  /**
   * Audience of the projected token the mutating webhook adds (PODIAM_TOKEN_AUDIENCE, the stack's
   * TokenAudience); must equal the proxy's PODIAM_TOKEN_AUDIENCE (chart value tokenIdentity.audience).
   * loadAdmissionConfig always sets it; unset: DEFAULT_TOKEN_AUDIENCE.
   */
  tokenAudience?: string;
  /** Lifetime of that token (PODIAM_TOKEN_EXPIRATION_SECONDS, 600-86400; the API server's minimum is 600). Unset: DEFAULT_TOKEN_EXPIRATION_SECONDS. */
  tokenExpirationSeconds?: number;
}

type Env = Record<string, string | undefined>;

/**
 * The one value of PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY (the stack's AllowNoPermissionsBoundary)
 * that lets the functions run without a boundary: long and plain on purpose, so nobody sets it by
 * accident and a reviewer of the stack sees what it means.
 */
export const NO_BOUNDARY_ACKNOWLEDGEMENT = 'I-understand-roles-have-no-boundary';

const MANAGED_POLICY_ARN = /^arn:[\w-]+:iam::(\d{12}|aws):policy\/.+$/;

/** A KMS key ARN as CloudFormation passes it; an alias could later resolve to another key. */
const KMS_KEY_ARN = /^arn:[\w-]+:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/;
function required(env: Env, name: string, fix: string): string {
  const v = env[name]?.trim();
  if (!v) throw new ConfigError(name, 'is not set', fix);
  return v;
}

function optional(env: Env, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = optional(env, name);
  if (v === undefined) return fallback;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(name, `'${v}' is not a boolean`, 'Use true or false.');
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = optional(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `'${v}' is not an integer from ${min} to ${max}`, `Set it to a whole number from ${min} to ${max}.`);
  return n;
}

export function loadFunctionsConfig(env: Env = process.env): FunctionsConfig {
  const cluster = required(env, 'PODIAM_CLUSTER_NAME', 'Set it to the cluster name (the stack parameter ClusterName).');
  if (!isClusterName(cluster)) throw new ConfigError('PODIAM_CLUSTER_NAME', `'${cluster}' ${clusterNameProblem(cluster)}`, CLUSTER_NAME_RULE);
  const arns = required(env, 'PODIAM_INTERMEDIATE_ROLE_ARNS', 'Set it to the node proxy role ARN(s), comma-separated.')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const arn of arns) {
    if (!parseRoleArn(arn)) throw new ConfigError('PODIAM_INTERMEDIATE_ROLE_ARNS', `'${arn}' is not an IAM role ARN`, 'Use arn:aws:iam::<account>:role/<name>, comma-separated.');
  }
  if (arns.length === 0) throw new ConfigError('PODIAM_INTERMEDIATE_ROLE_ARNS', 'names no role', 'Give at least one role ARN.');
  const partition = optional(env, 'PODIAM_PARTITION') ?? 'aws';
  if (!/^aws(-[a-z]+)*$/.test(partition)) throw new ConfigError('PODIAM_PARTITION', `'${partition}' is not a partition`, 'Set it to the stack\'s AWS::Partition (aws, aws-cn, aws-us-gov), or leave it unset for aws.');
  const foreign = (env.PODIAM_FOREIGN_INTERMEDIATE_ROLE_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const arn of foreign) {
    if (parseRoleArn(arn)?.partition !== partition) {
      throw new ConfigError('PODIAM_FOREIGN_INTERMEDIATE_ROLE_ARNS', `'${arn}' is not an IAM role ARN of partition ${partition}`, `Use arn:${partition}:iam::<account>:role/<name>, comma-separated, or leave it empty.`);
    }
  }
  const boundary = optional(env, 'PODIAM_PERMISSIONS_BOUNDARY_ARN');
  if (boundary && !MANAGED_POLICY_ARN.test(boundary)) {
    throw new ConfigError('PODIAM_PERMISSIONS_BOUNDARY_ARN', `'${boundary}' is not a managed policy ARN`, 'Use arn:aws:iam::<account>:policy/<name>.');
  }
  const noBoundary = optional(env, 'PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY');
  if (noBoundary !== undefined && noBoundary !== NO_BOUNDARY_ACKNOWLEDGEMENT) {
    throw new ConfigError('PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY', `'${noBoundary}' is not the acknowledgement`, `Set it to ${NO_BOUNDARY_ACKNOWLEDGEMENT} or leave it empty.`);
  }
  // Without a boundary every managed role can hold whatever its policy file grants, so running
  // unbounded must be a decision written into the stack, never the result of an empty default.
  if (!boundary && !noBoundary) {
    throw new ConfigError(
      'PODIAM_PERMISSIONS_BOUNDARY_ARN',
      'is not set',
      `Set the stack parameter PermissionsBoundaryArn to the boundary policy of the managed roles, or, to run without one, set AllowNoPermissionsBoundary (PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY) to ${NO_BOUNDARY_ACKNOWLEDGEMENT}.`,
    );
  }
  if (boundary && noBoundary) {
    throw new ConfigError('PODIAM_ALLOW_NO_PERMISSIONS_BOUNDARY', `is set although PODIAM_PERMISSIONS_BOUNDARY_ARN names ${boundary}`, 'Leave AllowNoPermissionsBoundary empty when the stack sets a boundary.');
  }
  const attachable = (env.PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const arn of attachable) {
    if (!MANAGED_POLICY_ARN.test(arn)) {
      throw new ConfigError('PODIAM_ATTACHABLE_MANAGED_POLICY_ARNS', `'${arn}' is not a managed policy ARN`, 'Give managed policy ARNs (arn:aws:iam::<account>:policy/<name>), comma-separated, or leave it empty.');
    }
  }
  const endpoint = optional(env, 'PODIAM_AWS_ENDPOINT');
  if (endpoint) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ConfigError('PODIAM_AWS_ENDPOINT', `'${endpoint}' is not a URL`, 'Use http://127.0.0.1:<port> of a local AWS emulator, or leave it unset.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('PODIAM_AWS_ENDPOINT', `'${endpoint}' is not http(s)`, 'Use http://127.0.0.1:<port>.');
  }
  const accountId = optional(env, 'PODIAM_ACCOUNT_ID');
  if (accountId && !/^\d{12}$/.test(accountId)) throw new ConfigError('PODIAM_ACCOUNT_ID', `'${accountId}' is not a 12-digit account ID`, 'Leave it unset to ask STS.');
  const externalId = optional(env, 'PODIAM_TRUST_EXTERNAL_ID');
  // The switch is gone: every managed role's trust binds the namespace session tag. A stack that
  // still turns it off must hear so, not run with a binding it did not expect.
  if (!bool(env, 'PODIAM_TRUST_REQUIRE_NAMESPACE_TAG', true)) {
    throw new ConfigError(
      'PODIAM_TRUST_REQUIRE_NAMESPACE_TAG',
      "is 'false', but the namespace binding can no longer be turned off",
      "Remove the setting (the stack parameter RequireNamespaceSessionTag is gone) and keep the chart's sessionTags on.",
    );
  }
  const allowedRaw = env.PODIAM_ALLOWED_ACCOUNTS;
  const signingKey = optional(env, 'PODIAM_BUNDLE_SIGNING_KEY_ARN');
  if (signingKey && !KMS_KEY_ARN.test(signingKey)) {
    throw new ConfigError('PODIAM_BUNDLE_SIGNING_KEY_ARN', `'${signingKey}' is not a KMS key ARN`, 'Set the stack parameter BundleSigningKeyArn to the key ARN (arn:aws:kms:<region>:<account>:key/<key-id>; not an alias), or leave it empty for unsigned bundles.');
  }
  const allowedAccounts = allowedRaw === undefined ? undefined : allowedRaw.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of allowedAccounts ?? []) {
    if (!/^\d{12}$/.test(a)) throw new ConfigError('PODIAM_ALLOWED_ACCOUNTS', `'${a}' is not a 12-digit account ID`, 'Give account IDs, comma-separated, as for the proxy.');
  }
  return {
    cluster,
    intermediateRoleArns: [...new Set(arns)],
    foreignIntermediateRoleArns: [...new Set(foreign)].sort(),
    partition,
    ...(optional(env, 'PODIAM_RECONCILE_FUNCTION_ARN') ? { reconcileFunctionArn: optional(env, 'PODIAM_RECONCILE_FUNCTION_ARN')! } : {}),
    ...(boundary ? { permissionsBoundaryArn: boundary } : {}),
    attachableManagedPolicyArns: [...new Set(attachable)].sort(),
    bundleBucket: required(env, 'PODIAM_BUNDLE_BUCKET', 'Set it to the bucket `podiam publish` writes to (the stack output BundleBucketName).'),
    bundleKey: optional(env, 'PODIAM_BUNDLE_KEY') ?? 'bundle.json',
    stateKey: optional(env, 'PODIAM_STATE_KEY') ?? `state/${cluster}/intermediate-rotation.json`,
    ...(externalId ? { trustExternalId: externalId } : {}),
    region: optional(env, 'AWS_REGION') ?? optional(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    ...(endpoint ? { awsEndpoint: endpoint } : {}),
    ...(accountId ? { accountId } : {}),
    ...(allowedAccounts ? { allowedAccounts } : {}),
    ...(optional(env, 'PODIAM_SELF_ROLE_ARN') ? { selfRoleArn: optional(env, 'PODIAM_SELF_ROLE_ARN')! } : {}),
    ...(signingKey ? { bundleSigningKeyArn: signingKey } : {}),
    deletionLimits: {
      maxRoleDeletions: int(env, 'PODIAM_MAX_ROLE_DELETIONS', DEFAULT_DELETION_LIMITS.maxRoleDeletions, 0, 100000),
      maxRoleDeletionPercent: int(env, 'PODIAM_MAX_ROLE_DELETION_PERCENT', DEFAULT_DELETION_LIMITS.maxRoleDeletionPercent, 0, 100),
    },
  };
}

export const DEFAULT_TOKEN_AUDIENCE = 'podiam';
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 600;

/** Minimum length of the webhook secret: 32 characters of a random token. */
export const MIN_WEBHOOK_SECRET = 32;

export function loadAdmissionConfig(env: Env = process.env): AdmissionConfig {
  const base = loadFunctionsConfig(env);
  // The plain secret in the function's environment is what this setting replaces: refuse it, so
  // it cannot creep back in (its value is never echoed).
  if (optional(env, 'PODIAM_WEBHOOK_SECRET')) {
    throw new ConfigError('PODIAM_WEBHOOK_SECRET', 'is set; the function must hold only the hash of the secret', 'Remove it and set PODIAM_WEBHOOK_SECRET_SHA256 (the stack parameter WebhookSecretSha256) to `printf %s "$SECRET" | sha256sum | cut -d" " -f1`.');
  }
  const hash = required(env, 'PODIAM_WEBHOOK_SECRET_SHA256', 'Set it to the stack parameter WebhookSecretSha256: `printf %s "$SECRET" | sha256sum | cut -d" " -f1` of a secret from `openssl rand -hex 32`.');
  if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
    throw new ConfigError('PODIAM_WEBHOOK_SECRET_SHA256', `is ${hash.length} characters, not 64 hex digits`, 'Set it to the hex SHA-256 of the secret: `printf %s "$SECRET" | sha256sum | cut -d" " -f1`.');
  }
  return {
    ...base,
    webhookSecretSha256: hash.toLowerCase(),
    budgetMs: int(env, 'PODIAM_ADMISSION_BUDGET_MS', 4500, 500, 9000),
    bundleCacheMs: int(env, 'PODIAM_BUNDLE_CACHE_MS', 30000, 0, 3600000),
    tokenAudience: tokenAudience(env),
    tokenExpirationSeconds: int(env, 'PODIAM_TOKEN_EXPIRATION_SECONDS', DEFAULT_TOKEN_EXPIRATION_SECONDS, 600, 86400),
  };
}

/** One audience as the TokenRequest API takes it: printable, no spaces or commas (chart and proxy join lists with commas). */
const AUDIENCE = /^[\x21-\x2b\x2d-\x7e]{1,256}$/;

function tokenAudience(env: Env): string {
  const audience = optional(env, 'PODIAM_TOKEN_AUDIENCE') ?? DEFAULT_TOKEN_AUDIENCE;
  if (!AUDIENCE.test(audience)) {
    throw new ConfigError('PODIAM_TOKEN_AUDIENCE', `'${audience}' is not one audience`, 'Use up to 256 printable characters without spaces or commas (the default is podiam), the same as the chart value tokenIdentity.audience.');
  }
  return audience;
}
/** What the stack's WebhookSecretSha256 holds: `printf %s "$SECRET" | sha256sum`. */
export function webhookSecretSha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

