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
  PODIAM_NAMESPACE_ANNOTATION_INVALID: { status: 403, fix: 'Fix the namespace annotation: allowed-roles must be a JSON array of strings; permitted a regular expression of the supported subset (literals, ., [...], \\d \\w \\s, groups, |, * + ? {n,m}; no backreferences or lookaround; at most 1,000 characters), see docs/troubleshooting.md.' },
  // The node proxy (proxy/): what a pod sees when it asks the metadata endpoint.
  PODIAM_NO_ROLE: { status: 404, fix: 'Annotate the pod with iam.amazonaws.com/role (a service name of its namespace), or ask for a default role.' },
  PODIAM_POD_UNKNOWN: { status: 404, fix: 'The proxy knows no pod with this IP on this node: check that the pod runs on this node and not with hostNetwork, then retry.' },
  PODIAM_POD_IP_CONFLICT: { status: 409, fix: 'Two live pods claim this IP; the proxy answers neither until one of them is gone. Check the CNI plugin.' },
  PODIAM_POD_INDEX_NOT_SYNCED: { status: 503, fix: 'The proxy has lost or not yet finished its watch of pods; retry in a few seconds, and check its access to the Kubernetes API if it persists.' },
  PODIAM_ROLE_NAME_MISMATCH: { status: 403, fix: 'Ask for the role name that security-credentials/ lists; it is the only one this pod may have.' },
  PODIAM_CREDENTIALS_PENDING: { status: 503, fix: 'STS has not answered yet (a new role may still be propagating); retry in a few seconds.' },
  PODIAM_STS_FAILED: { status: 503, fix: "STS refused or failed to issue credentials for the pod's role; check the role's trust policy and the proxy's logs." },
  PODIAM_IMDS_TOKEN_REQUIRED: { status: 401, fix: 'Use IMDSv2: PUT /latest/api/token first and send the token in X-aws-ec2-metadata-token.' },
  PODIAM_IMDS_TOKEN_INVALID: { status: 401, fix: 'The session token is expired, malformed or from another address; request a new one with PUT /latest/api/token.' },
  PODIAM_IMDS_TOKEN_TTL_INVALID: { status: 400, fix: 'Send X-aws-ec2-metadata-token-ttl-seconds with a value from 1 to 21600.' },
  PODIAM_FORWARDED_REQUEST: { status: 403, fix: 'Do not send X-Forwarded-For to the metadata endpoint: like IMDSv2, the proxy refuses forwarded token requests.' },
  PODIAM_PATH_INVALID: { status: 400, fix: "Use a plain metadata path: no '..', percent-escapes, '//', ';' or query strings." },
  PODIAM_PATH_NOT_ALLOWED: { status: 403, fix: 'This metadata path is not on the proxy\'s passthrough allowlist (PODIAM_PASSTHROUGH_PATHS / passthroughPaths).' },
  PODIAM_METHOD_NOT_ALLOWED: { status: 405, fix: 'Use GET (PUT only for /latest/api/token).' },
  PODIAM_UPSTREAM_UNAVAILABLE: { status: 502, fix: "The node's metadata service did not answer; check the node, then retry." },
  PODIAM_UPSTREAM_TIMEOUT: { status: 504, fix: "The node's metadata service was too slow to answer; retry." },
  PODIAM_BAD_REQUEST: { status: 400, fix: 'Send a well-formed HTTP/1.1 request with headers under 8 KiB.' },
  // The token door (169.254.170.23/v1/credentials, proxy/src/token/): a projected service-account token, not the source IP, names the pod.
  PODIAM_TOKEN_MISSING: { status: 401, fix: 'Send the projected service-account token in the Authorization header: set AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE to the token file podiam\'s webhook mounts (opt the pod in with podiam.io/token-identity: "true").' },
  PODIAM_TOKEN_INVALID: { status: 401, fix: "The token is malformed, signed by a key the cluster's service-account issuer does not publish, or from another issuer; send the pod's current projected token file, unmodified." },
  PODIAM_TOKEN_EXPIRED: { status: 401, fix: 'The token has expired; read the token file again (the kubelet rotates it) rather than keeping an old copy.' },
  PODIAM_TOKEN_AUDIENCE_MISMATCH: { status: 401, fix: "The token is not meant for podiam; send the token of the projected volume whose audience is podiam's (PODIAM_TOKEN_AUDIENCE, chart value tokenIdentity.audience)." },
  PODIAM_TOKEN_NOT_POD_BOUND: { status: 403, fix: 'The token is not bound to a pod; use the projected service-account token the kubelet writes for the pod (not a token made with kubectl create token without --bound-object-kind Pod).' },
  PODIAM_TOKEN_POD_NOT_ON_NODE: { status: 403, fix: "The token's pod is not a live pod of this node (deleted, replaced, or elsewhere); a pod may only use its own, current token." },
  PODIAM_TOKEN_SOURCE_MISMATCH: { status: 403, fix: "The request does not come from the token's own pod; a token works only from the pod it is bound to." },
  PODIAM_TOKEN_KEYS_UNAVAILABLE: { status: 503, fix: "The proxy could not read the service-account issuer's keys from the API server; check its access to /openid/v1/jwks (ClusterRole system:service-account-issuer-discovery) and retry." },
  PODIAM_IP_IDENTITY_DISABLED: { status: 403, fix: 'This namespace takes credentials by token only (podiam.io/ip-identity: disabled): use the token endpoint the webhook configures (AWS_CONTAINER_CREDENTIALS_FULL_URI), or remove the annotation.' },
  PODIAM_INTERNAL: { status: 500, fix: "An unexpected error in the proxy; see its logs and report it." },
  // The Lambda functions (functions/): reconcile, admission, rotate.
  PODIAM_BUNDLE_NOT_FOUND: { status: 500, fix: 'Publish the policies with `podiam publish --bucket <BundleBucketName>` to the key the stack names (PODIAM_BUNDLE_BUCKET / PODIAM_BUNDLE_KEY).' },
  PODIAM_BUNDLE_INVALID: { status: 500, fix: 'Publish the bundle again with `podiam publish` from a checkout where `podiam check` passes; do not edit it by hand.' },
  PODIAM_BOUNDARY_MISMATCH: { status: 500, fix: "Make policies/guardrails.json's permissionsBoundaryArn name the stack's PermissionsBoundaryArn, or remove it from guardrails.json; then publish again." },
  PODIAM_BUNDLE_GUARDRAILS_FAILED: { status: 500, fix: 'Run `podiam check` on the policies folder, fix what it reports and publish again with `podiam publish`; find out who wrote a bundle that never passed it (S3 server access logs or CloudTrail data events of the bundle key).' },
  PODIAM_BUNDLE_SIGNATURE_INVALID: { status: 500, fix: "Publish with `podiam publish --kms-key-id <the stack's BundleSigningKeyArn>` as the publisher role (it needs kms:Sign and kms:DescribeKey on that key); a bundle that is unsigned, signed by another key, or whose content no longer matches its signature was not published that way: find out who wrote it (S3 server access logs or CloudTrail data events of the bundle key)." },
  PODIAM_MANAGED_POLICY_NOT_ALLOWED: { status: 500, fix: "Remove the managed policy from the service's file, or ask the platform team to add its ARN to the stack's AttachableManagedPolicyArns; then publish again." },
  PODIAM_ROLE_NAME_COLLISION: { status: 409, fix: 'A role of that name exists without podiam tags naming this cluster, namespace and service; podiam never adopts, changes or uses it: rename the service, or delete or rename the other role by hand.' },
  PODIAM_ROLE_NOT_IN_BUNDLE: { status: 403, fix: 'Add policies/<namespace>/<service>.json, merge it and run `podiam publish`; then create the pod again.' },
  PODIAM_ROLE_CREATE_PENDING: { status: 503, fix: 'The role could not be created within the admission budget; the controller will retry the pod, and the reconcile function creates the role meanwhile.' },
  PODIAM_ADMISSION_REVIEW_INVALID: { status: 400, fix: 'Send a JSON AdmissionReview (admission.k8s.io/v1) with request.uid and request.object; check the ValidatingWebhookConfiguration (admissionReviewVersions: ["v1"]).' },
  PODIAM_WEBHOOK_SECRET_INVALID: { status: 403, fix: "Put the stack's WebhookUrlPrefix followed by the secret whose SHA-256 is the stack's WebhookSecretSha256 into the Secret named by the chart's webhook.urlSecret, then helm upgrade." },
  PODIAM_ADMISSION_UNAVAILABLE: { status: 503, fix: "The admission function could not decide (S3 or IAM failed or was unreachable); the API server applied the webhook's failurePolicy. See the function's log for the cause; it clears when S3 and IAM answer again." },
  PODIAM_REQUEST_TOO_LARGE: { status: 413, fix: "Send the AdmissionReview (at most 6 MB, the Function URL's limit) to the stack's WebhookUrlPrefix followed by the secret; only the chart's ValidatingWebhookConfiguration should call the URL." },
  PODIAM_ROLE_CHANGE_VIA_STATUS: { status: 403, fix: 'Change iam.amazonaws.com/role, external-id or session-ttl with a plain pod update (kubectl annotate, which the webhook checks), or recreate the pod; the pods/status subresource may not change them.' },
  PODIAM_IAM_THROTTLED: { status: 503, fix: 'IAM kept throttling after every retry; the run fails so EventBridge retries it later. Reduce other IAM traffic in the account if it persists.' },
  PODIAM_MASS_DELETION_REFUSED: { status: 409, fix: 'Nothing was changed. If the deletions are intended, publish again with `podiam publish --acknowledge-deletions <N>` (N: the number of deletions in the message); if not, publish the right policies folder. The limits are the stack parameters MaxRoleDeletions and MaxRoleDeletionPercent.' },
  PODIAM_RECONCILE_FAILED: { status: 500, fix: "Some roles could not be brought to their desired state; the run fails so EventBridge retries it. See each role's error in the log." },
  PODIAM_EVENT_UNSUPPORTED: { status: 400, fix: 'Send an event the function understands (see events/ in the repository for each shape).' },
  PODIAM_ROTATE_REQUEST_INVALID: { status: 400, fix: "Send detail {cluster, action: 'revoke-sessions' | 'begin-intermediate-rotation' | 'finish-intermediate-rotation' | 'prune-intermediates', ...} as events/rotate-*.json show." },
  PODIAM_INTERMEDIATE_ROLES_MISSING: { status: 500, fix: 'None of the intermediate role ARNs (IntermediateRoleArns / PODIAM_INTERMEDIATE_ROLE_ARNS) exists; create the node proxy role or correct the parameter.' },
  PODIAM_INTERMEDIATE_ROLE_NOT_ALLOWED: { status: 403, fix: "Name a role of the stack's own account; a node proxy role in another account must first be listed in the stack parameter ForeignIntermediateRoleArns." },
  PODIAM_ROTATION_STATE_INVALID: { status: 500, fix: 'Only the rotate function may write state/<cluster>/intermediate-rotation.json: find out who wrote it (CloudTrail data events, bucket versions), delete it or restore the previous version, then run the rotation again.' },
  PODIAM_RECONCILE_BUSY: { status: 503, fix: 'The reconcile function (one run at a time) stayed busy; the rotation state is already written and its next run applies it. Send the rotate request again to see the result.' },
  PODIAM_REVOKE_POLICY_TOO_LARGE: { status: 409, fix: "The role's inline policies leave no room for AWSRevokeOlderSessions (IAM allows 10,240 characters for all inline policies of a role together): shrink the service's policy file and publish, then revoke again. The message names the role, its inline policies' total and what the revocation needs." },
  // The podiam CLI (cli/): `exit` is the process exit code (2: the command line is wrong; 1: the
  // files, the bundle or AWS are). Codes above that reach the CLI exit 1.
  PODIAM_CLI_USAGE: { status: 400, exit: 2, fix: 'Run `podiam help` for the commands, `podiam <command> --help` for one command\'s options.' },
  PODIAM_POLICIES_DIR_NOT_FOUND: { status: 400, exit: 2, fix: 'Pass the policies folder, e.g. `podiam check policies`.' },
  PODIAM_GUARDRAILS_INVALID: { status: 400, exit: 1, fix: 'Fix policies/guardrails.json (see the message), or pass another file with --guardrails.' },
  PODIAM_CHECK_FAILED: { status: 400, exit: 1, fix: 'Fix the errors that `podiam check` lists, then publish again.' },
  PODIAM_PUBLISH_FAILED: { status: 500, exit: 1, fix: 'Check the bucket name, its region and the AWS credentials in the environment.' },
  PODIAM_CLI_UNEXPECTED: { status: 500, exit: 1, fix: 'The cause is named above; if it is not a file permission or disk problem, report it as a podiam bug.' },
  PODIAM_PLAN_FAILED: { status: 500, exit: 1, fix: 'Check the AWS credentials in the environment: plan needs IAM read access (iam:Get*, iam:List*, including iam:GetAccountAuthorizationDetails) and sts:GetCallerIdentity, nothing more.' },
  PODIAM_UNINSTALL_FAILED: { status: 500, exit: 1, fix: 'Check the AWS credentials in the environment: uninstall needs iam:Get*, iam:List*, sts:GetCallerIdentity and, with --yes, iam:DeleteRole, iam:DeleteRolePolicy, iam:DetachRolePolicy, iam:RemoveRoleFromInstanceProfile (and s3:ListBucketVersions, s3:DeleteObjectVersion on the bucket); then run it again: it removes only what is still there.' },
} as const satisfies Record<string, { status: number; fix: string; exit?: number }>;

/** The exit code of the podiam CLI for a code: its own where the table gives one, else 1. */
export function exitCodeOf(code: ErrorCode): number {
  const entry = (errorCodes as Record<string, { exit?: number }>)[code];
  return entry?.exit ?? 1;
}

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
