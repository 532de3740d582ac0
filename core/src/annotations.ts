/** Annotation keys podiam honours; the kube2iam / kiam ones keep their meaning. */
export const ROLE_ANNOTATION = 'iam.amazonaws.com/role';
export const EXTERNAL_ID_ANNOTATION = 'iam.amazonaws.com/external-id';
export const SESSION_TTL_ANNOTATION = 'iam.amazonaws.com/session-ttl';
/** Namespace: JSON array of globs ('*' matches any run of characters), as kube2iam. */
export const ALLOWED_ROLES_ANNOTATION = 'iam.amazonaws.com/allowed-roles';
/** Namespace: a regular expression, as kiam (podiam anchors it: it must match the whole value). */
export const PERMITTED_ANNOTATION = 'iam.amazonaws.com/permitted';

/** Session tag keys: the names EKS Pod Identity uses, so trust and permission policies port over. */
export const SESSION_TAG_KEYS = {
  namespace: 'kubernetes-namespace',
  podName: 'kubernetes-pod-name',
  podUid: 'kubernetes-pod-uid',
  serviceAccount: 'kubernetes-service-account',
  cluster: 'eks-cluster-name',
} as const;

/** STS: a role assumed by another role (role chaining) gets at most one hour. */
export const MAX_CHAINED_SESSION_SECONDS = 3600;
export const MIN_SESSION_SECONDS = 900;

/**
 * Namespace: an RFC 3339 time. Credentials the proxies cached for the namespace's pods before it
 * are dropped and fetched anew — set it right after revoking the roles' older sessions, so pods
 * get working credentials at once instead of at the next refresh.
 */
export const SESSIONS_REVOKED_AT_ANNOTATION = 'podiam.io/sessions-revoked-at';

/**
 * Pod: "true" asks the mutating webhook for token-bound identity (a projected service-account
 * token and the EKS Pod Identity env); "false" opts a pod out of its namespace's opt-in.
 * Namespace label (the chart's tokenIdentity.namespaceLabel): "enabled" opts in every pod.
 */
export const TOKEN_IDENTITY_ANNOTATION = 'podiam.io/token-identity';

/** Namespace: `disabled` turns the metadata (source IP) path off for its pods; the token door alone serves them. */
export const IP_IDENTITY_ANNOTATION = 'podiam.io/ip-identity';

/**
 * The token door, as the webhook writes it into pods and the proxy serves it: the container-credentials
 * address the AWS SDKs accept over plain HTTP (EKS Pod Identity's), and its one path.
 */
export const TOKEN_DOOR_ADDRESS = '169.254.170.23';
export const TOKEN_DOOR_PATH = '/v1/credentials';
export const TOKEN_DOOR_URL = `http://${TOKEN_DOOR_ADDRESS}${TOKEN_DOOR_PATH}`;
