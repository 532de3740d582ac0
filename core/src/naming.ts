/**
 * The one place that turns (cluster, namespace, service) into an IAM role's path, name and ARN.
 * The proxy, the Lambda functions and the CLI all import this, so they can never disagree.
 */
import { createHash } from 'node:crypto';
import { PodiamError } from './errors.ts';

/** IAM's limit on a role name. */
export const MAX_ROLE_NAME = 64;
/**
 * Hex characters of SHA-256 kept in a shortened role name: 80 bits. Matching another service's
 * shortened name then takes about 2^80 hashes (the old 6 characters, 24 bits, took seconds).
 */
export const ROLE_NAME_HASH_CHARS = 20;
/** Between the kept prefix and the hash of a shortened name; never part of a full name. */
const HASH_MARKER = '_';
const HASHED_PREFIX = MAX_ROLE_NAME - HASH_MARKER.length - ROLE_NAME_HASH_CHARS;
/** Separates cluster, namespace and service; cannot occur in a DNS-1123 label. */
const SEPARATOR = '.';
const SESSION_HASH_CHARS = 6;

/** DNS-1123 label: what Kubernetes allows for a namespace name, and what we require of a service name. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const MANAGED_TAG_CLUSTER = 'podiam:cluster';
export const MANAGED_TAG_NAMESPACE = 'podiam:namespace';
export const MANAGED_TAG_SERVICE = 'podiam:service';

export interface ServiceRef {
  cluster: string;
  namespace: string;
  service: string;
}

export function isDnsLabel(value: string): boolean {
  return DNS_LABEL.test(value);
}

/**
 * The longest ClusterName every part of podiam supports: 42. A shortened role name keeps only its
 * first 43 characters (HASHED_PREFIX), and the drift rule's event pattern and
 * functions/reconcile/events.ts find a cluster's roles by the name prefix `<cluster>.`; with a
 * 43-character cluster a shortened name would start `<cluster>_` and its drift would go unseen.
 * Everything else that embeds the name is longer: the rotate bus `podiam-<cluster>-rotate`
 * (256), the path `/podiam/<cluster>/` (512), the podiam:cluster tag value (256), S3 keys.
 * template.yaml (ClusterName MaxLength) and chart/values.schema.json (clusterName maxLength)
 * state the same number; test/unit/core/cluster-name-limit.test.ts compares them.
 */
export const MAX_CLUSTER_NAME_LENGTH = HASHED_PREFIX - SEPARATOR.length;

/** A DNS-1123 label of at most MAX_CLUSTER_NAME_LENGTH characters. */
export function isClusterName(value: string): boolean {
  return value.length <= MAX_CLUSTER_NAME_LENGTH && DNS_LABEL.test(value);
}

/** Why isClusterName refuses `value`, for the message before CLUSTER_NAME_RULE. */
export function clusterNameProblem(value: string): string {
  return DNS_LABEL.test(value) ? `is longer than ${MAX_CLUSTER_NAME_LENGTH} characters` : 'is not a DNS-1123 label';
}

/** What to do about a ClusterName isClusterName refuses; the same sentence in every adapter. */
export const CLUSTER_NAME_RULE = `Use a DNS-1123 label of 1-${MAX_CLUSTER_NAME_LENGTH} characters: lower-case letters, digits and '-', starting and ending with a letter or digit (longer names would break the '<cluster>.' role name prefix of shortened names).`;

/** Throws PODIAM_ROLE_NAME_INVALID naming the part and the rule it breaks. */
export function assertServiceRef(ref: ServiceRef): void {
  for (const [part, value] of Object.entries(ref) as [keyof ServiceRef, string][]) {
    if (!isDnsLabel(value)) {
      throw new PodiamError(
        'PODIAM_ROLE_NAME_INVALID',
        `${part} '${value}' is not a DNS-1123 label; use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit.`,
      );
    }
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `/podiam/<cluster>/` */
export function managedRolePath(cluster: string): string {
  return `/podiam/${cluster}/`;
}

/**
 * `<cluster>.<ns>.<svc>`. One-to-one: a DNS-1123 label has no '.', so splitting a full name on
 * '.' gives back exactly its three parts (with '-' as the separator, orders + billing-x and
 * orders-billing + x were one name). Over 64 characters: its first 43 characters, '_', and 20
 * hex characters (80 bits) of SHA-256 of the full name. A full name never contains '_', so a
 * shortened name never equals a full one; two shortened names are equal only if SHA-256 of
 * two different full names agrees in 80 bits.
 */
export function managedRoleName(ref: ServiceRef): string {
  assertServiceRef(ref);
  const full = [ref.cluster, ref.namespace, ref.service].join(SEPARATOR);
  if (full.length <= MAX_ROLE_NAME) return full;
  return `${full.slice(0, HASHED_PREFIX)}${HASH_MARKER}${sha256Hex(full).slice(0, ROLE_NAME_HASH_CHARS)}`;
}

/**
 * The earlier name shape: `<cluster>-<ns>-<svc>`, over 64 characters its first 57 + '-' + 6
 * hex characters. Not one-to-one; used only to recognise roles of that shape so reconcile can
 * migrate them (their podiam tags must name the same service). Never used to name a new role.
 */
export function legacyManagedRoleName(ref: ServiceRef): string {
  assertServiceRef(ref);
  const full = `${ref.cluster}-${ref.namespace}-${ref.service}`;
  if (full.length <= MAX_ROLE_NAME) return full;
  return `${full.slice(0, 57)}-${sha256Hex(full).slice(0, 6)}`;
}

/** True when `name` is the role name managedRoleName gives `ref` (false for invalid parts). */
export function isManagedRoleNameOf(name: string, ref: ServiceRef): boolean {
  try {
    return managedRoleName(ref) === name;
  } catch {
    return false;
  }
}

export interface AccountRef {
  partition?: string;
  accountId: string;
}

export function roleArn(account: AccountRef, path: string, name: string): string {
  return `arn:${account.partition ?? 'aws'}:iam::${account.accountId}:role${path}${name}`;
}

export function managedRoleArn(account: AccountRef, ref: ServiceRef): string {
  return roleArn(account, managedRolePath(ref.cluster), managedRoleName(ref));
}

/** Resource pattern for every managed role of one cluster: what the intermediate role may assume. */
export function managedRoleArnPattern(account: AccountRef, cluster: string): string {
  return roleArn(account, managedRolePath(cluster), '*');
}

export interface ParsedRoleArn {
  partition: string;
  accountId: string;
  /** Always starts and ends with '/'. */
  path: string;
  name: string;
  arn: string;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role(\/(?:[\x21-\x7e]*\/)?)([\w+=,.@-]{1,64})$/;

/** Parses `arn:<partition>:iam::<account>:role/<path>/<name>`; undefined when it is not a role ARN. */
export function parseRoleArn(arn: string): ParsedRoleArn | undefined {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, accountId: m[2]!, path: m[3]!, name: m[4]!, arn };
}

const SESSION_NAME_CHARS = /[^\w+=,.@-]/g;
const MAX_SESSION_NAME = 64;

/**
 * RoleSessionName for a pod: `<namespace>.<pod>` with characters STS rejects replaced by '-',
 * at most 64 characters (long names keep a hash suffix so they stay distinct), at least 2.
 */
export function podSessionName(namespace: string, podName: string): string {
  const raw = `${namespace}.${podName}`.replace(SESSION_NAME_CHARS, '-');
  if (raw.length <= MAX_SESSION_NAME) return raw.length >= 2 ? raw : `${raw}--`.slice(0, 2);
  return `${raw.slice(0, MAX_SESSION_NAME - SESSION_HASH_CHARS - 1)}-${sha256Hex(raw).slice(0, SESSION_HASH_CHARS)}`;
}
