/**
 * The proxy's settings: parsed once from the environment (and `--flag value` / `--flag=value`
 * arguments, which win), validated, and frozen. Every failure is a ConfigError naming the
 * setting and the fix. The Helm chart sets these variables from its values.
 *
 * A flag is the variable's name without the PODIAM_ prefix, lower-case with '-':
 * `--host-interface cali+` sets PODIAM_HOST_INTERFACE.
 */
import { isIPv4 } from 'node:net';
import { ConfigError } from '../../core/src/errors.ts';
import { CLUSTER_NAME_RULE, clusterNameProblem, isClusterName, isDnsLabel, parseRoleArn } from '../../core/src/naming.ts';
import { MAX_CHAINED_SESSION_SECONDS, MIN_SESSION_SECONDS } from '../../core/src/annotations.ts';
import { DEFAULT_CONNECTION_LIMITS } from './connection-guard.ts';
import { LOG_LEVELS } from './log.ts';

export interface ProxyConfig {
  clusterName: string;
  nodeName: string;
  /** The node's IP: the DNAT target. */
  hostIp: string;
  /** Address the metadata listener binds to. */
  listenAddress: string;
  port: number;
  /** Prometheus metrics, /healthz and /readyz; 0 picks a free port, -1 disables. */
  metricsPort: number;
  hostInterface: string;
  iptables: boolean;
  iptablesCheckIntervalMs: number;
  /** Undefined: taken from the upstream IMDS's instance identity document at start. */
  awsRegion: string | undefined;
  /** Undefined: taken from the upstream IMDS's instance identity document at start. */
  accountId: string | undefined;
  allowedAccounts: string[];
  defaultRole: string | undefined;
  /** sts:ExternalId sent for pods without iam.amazonaws.com/external-id (the stack's TrustExternalId). */
  externalId: string | undefined;
  /** Session length asked of STS when the pod does not set iam.amazonaws.com/session-ttl. */
  sessionDurationSeconds: number;
  requireImdsV2: boolean;
  imdsUpstream: string;
  /** Upstream IMDS paths a pod may read; an entry ending in '/' also allows what lies below it. */
  passthroughPaths: string[];
  stsEndpoint: string | undefined;
  /** How long a request from an IP not yet indexed waits for the pod index before a 404. */
  indexWaitMs: number;
  /**
   * After a watch breaks, how long (since the API server last answered) a known pod is still
   * answered for from the index as it was; 0: not at all (proxy/src/k8s/stale-lookup.ts).
   */
  staleIndexWindowMs: number;
  /** How long a request waits for STS before a 503 (the fetch goes on in the background). */
  credentialsWaitMs: number;
  /** Fetch credentials as soon as a pod with a role appears. */
  prefetch: boolean;
  /** AssumeRole calls in flight at once (prefetch, refresh and asking pods together; asking pods first). */
  prefetchConcurrency: number;
  /** Create a Kubernetes Event on a pod whose role is denied. */
  events: boolean;
  logLevel: string;
  /** Undefined: in-cluster service account. */
  kubeconfig: string | undefined;
  shutdownGraceMs: number;
  /** The DaemonSet running this proxy: on SIGTERM its rules stay unless it is being deleted. */
  daemonSet: { namespace: string; name: string } | undefined;
  /** Caps of the metadata listener (proxy/src/connection-guard.ts). */
  firstByteTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxPipelined: number;
  maxRequestsPerSocket: number;
  /**
   * The token door (proxy/src/token/): GET /v1/credentials on 169.254.170.23, sent to tokenPort by
   * a second DNAT rule; the pod is named by its projected service-account token.
   */
  tokenIdentity: { port: number; audience: string; issuer: string | undefined } | undefined;
}

/** AssumeRole calls in flight at once unless PODIAM_PREFETCH_CONCURRENCY says otherwise. */
export const DEFAULT_PREFETCH_CONCURRENCY = 4;

/** Instance identity basics only: never user-data, never iam/ (served by the proxy), never identity-credentials. */
export const DEFAULT_PASSTHROUGH_PATHS: readonly string[] = [
  '/latest/meta-data/ami-id',
  '/latest/meta-data/availability-zone',
  '/latest/meta-data/hostname',
  '/latest/meta-data/instance-id',
  '/latest/meta-data/instance-type',
  '/latest/meta-data/local-hostname',
  '/latest/meta-data/local-ipv4',
  '/latest/meta-data/mac',
  '/latest/meta-data/placement/',
  '/latest/meta-data/region',
  '/latest/meta-data/services/domain',
  '/latest/meta-data/services/partition',
  '/latest/dynamic/instance-identity/document',
];

/** Paths that must never be passed through, whatever PODIAM_PASSTHROUGH_PATHS says. */
export const FORBIDDEN_PASSTHROUGH_PREFIXES: readonly string[] = [
  '/latest/user-data',
  '/latest/meta-data/iam',
  '/latest/meta-data/identity-credentials',
  '/latest/api',
];

type Env = Record<string, string | undefined>;

/** Turns `--host-interface=x` / `--host-interface x` into PODIAM_HOST_INTERFACE=x. */
export function flagsToEnv(argv: readonly string[]): Env {
  const out: Env = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`argument '${arg}'`, 'is not a --flag', 'Pass settings as --name=value or as PODIAM_* environment variables.');
    const eq = arg.indexOf('=');
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).toUpperCase().replace(/-/g, '_');
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
    else value = 'true';
    out[`PODIAM_${name}`] = value;
  }
  return out;
}

class Reader {
  constructor(private readonly env: Env) {}

  raw(name: string, ...fallbacks: string[]): string | undefined {
    for (const key of [name, ...fallbacks]) {
      const v = this.env[key]?.trim();
      if (v !== undefined && v !== '') return v;
    }
    return undefined;
  }

  string(name: string, fallbacks: string[] = []): string | undefined {
    return this.raw(name, ...fallbacks);
  }

  required(name: string, fix: string, fallbacks: string[] = []): string {
    const v = this.raw(name, ...fallbacks);
    if (v === undefined) throw new ConfigError(name, `is not set${fallbacks.length ? ` (nor ${fallbacks.join(', ')})` : ''}`, fix);
    return v;
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return dflt;
    if (/^(true|1|yes|on)$/i.test(v)) return true;
    if (/^(false|0|no|off)$/i.test(v)) return false;
    throw new ConfigError(name, `'${v}' is not a boolean`, 'Use true or false.');
  }

  int(name: string, dflt: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return dflt;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `'${v}' is not an integer`, `Use a whole number from ${min} to ${max}.`);
    const n = Number(v);
    if (n < min || n > max) throw new ConfigError(name, `${n} is out of range`, `Use a whole number from ${min} to ${max}.`);
    return n;
  }

  list(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

/** log.ts's levels, most severe first, and 'silent'. */
const LOG_LEVEL_NAMES = [...Object.keys(LOG_LEVELS).reverse(), 'silent'];
/** As kube2iam: an interface name, a '+' wildcard suffix, or '!' to negate (`!eth0`, `cali+`, `eni+`). */
const HOST_INTERFACE = /^!?[A-Za-z0-9_.@:-]{1,15}\+?$/;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const PASSTHROUGH_PATH = /^\/latest\/[A-Za-z0-9_\-./]+$/;

/** Parses and validates the proxy's settings; throws ConfigError naming the first bad one. */
export function parseConfig(envIn: Env = process.env, argv: readonly string[] = []): ProxyConfig {
  const env = { ...envIn, ...flagsToEnv(argv) };
  const r = new Reader(env);

  const clusterName = r.required('PODIAM_CLUSTER_NAME', 'Set it to the cluster name used in the managed role names (the chart sets it from clusterName).');
  if (!isClusterName(clusterName)) {
    throw new ConfigError('PODIAM_CLUSTER_NAME', `'${clusterName}' ${clusterNameProblem(clusterName)}`, CLUSTER_NAME_RULE);
  }
  const iptables = r.bool('PODIAM_IPTABLES', true);
  const nodeName = r.required('PODIAM_NODE_NAME', 'Set it from the downward API (spec.nodeName); the chart does this.', ['NODE_NAME']);

  const hostIpRaw = r.string('PODIAM_HOST_IP', ['HOST_IP']);
  if (hostIpRaw !== undefined && !isIPv4(hostIpRaw)) throw new ConfigError('PODIAM_HOST_IP', `'${hostIpRaw}' is not an IPv4 address`, 'Set it from the downward API (status.hostIP).');
  if (iptables && hostIpRaw === undefined) {
    throw new ConfigError('PODIAM_HOST_IP', 'is not set but PODIAM_IPTABLES is true', 'Set it from the downward API (status.hostIP), or set PODIAM_IPTABLES=false.');
  }
  const hostIp = hostIpRaw ?? '127.0.0.1';
  const listenAddress = r.string('PODIAM_LISTEN_ADDRESS') ?? '0.0.0.0';
  if (!isIPv4(listenAddress)) throw new ConfigError('PODIAM_LISTEN_ADDRESS', `'${listenAddress}' is not an IPv4 address`, 'Use 0.0.0.0 or the node IP.');

  const port = r.int('PODIAM_PORT', 8181, 0, 65535);
  const metricsPort = r.int('PODIAM_METRICS_PORT', 9181, -1, 65535);
  if (port !== 0 && port === metricsPort) throw new ConfigError('PODIAM_METRICS_PORT', `is the same as PODIAM_PORT (${port})`, 'Use a different port for metrics.');

  const hostInterface = r.string('PODIAM_HOST_INTERFACE') ?? 'docker0';
  if (!HOST_INTERFACE.test(hostInterface)) {
    throw new ConfigError('PODIAM_HOST_INTERFACE', `'${hostInterface}' is not an interface name`, "Use a name such as docker0, cni0, cali+, eni+ or !eth0 (at most 15 characters, '+' wildcard, '!' to negate).");
  }

  const awsRegion = r.string('PODIAM_AWS_REGION', ['AWS_REGION', 'AWS_DEFAULT_REGION']);
  if (awsRegion !== undefined && !REGION.test(awsRegion)) throw new ConfigError('PODIAM_AWS_REGION', `'${awsRegion}' is not an AWS region`, 'Use a region code such as eu-west-1, or unset it to take the node\'s region from IMDS.');
  const accountId = r.string('PODIAM_ACCOUNT_ID');
  if (accountId !== undefined && !ACCOUNT_ID.test(accountId)) throw new ConfigError('PODIAM_ACCOUNT_ID', `'${accountId}' is not a 12-digit account ID`, 'Use the 12-digit AWS account ID, or unset it to take it from IMDS.');
  const allowedAccounts = r.list('PODIAM_ALLOWED_ACCOUNTS') ?? [];
  for (const a of allowedAccounts) {
    if (!ACCOUNT_ID.test(a)) throw new ConfigError('PODIAM_ALLOWED_ACCOUNTS', `'${a}' is not a 12-digit account ID`, 'Use a comma-separated list of 12-digit account IDs.');
  }
  const defaultRole = r.string('PODIAM_DEFAULT_ROLE');
  if (defaultRole !== undefined && defaultRole.startsWith('arn:') && !parseRoleArn(defaultRole)) {
    throw new ConfigError('PODIAM_DEFAULT_ROLE', `'${defaultRole}' is not an IAM role ARN`, 'Use a service name of the pod\'s namespace or a full role ARN, or unset it.');
  }

  const externalId = r.string('PODIAM_EXTERNAL_ID');
  if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
    throw new ConfigError('PODIAM_EXTERNAL_ID', 'is not a valid sts:ExternalId', "Use 2-1224 characters of letters, digits and _+=,.@:/- — the same value as the stack's TrustExternalId — or unset it.");
  }

  const imdsUpstream = r.string('PODIAM_IMDS_UPSTREAM') ?? 'http://169.254.169.254';
  let upstreamUrl: URL;
  try {
    upstreamUrl = new URL(imdsUpstream);
  } catch (cause) {
    throw new ConfigError('PODIAM_IMDS_UPSTREAM', `'${imdsUpstream}' is not a URL`, 'Use http://169.254.169.254 (the default) or http://host:port.', { cause });
  }
  if (upstreamUrl.protocol !== 'http:' || (upstreamUrl.pathname !== '/' && upstreamUrl.pathname !== '')) {
    throw new ConfigError('PODIAM_IMDS_UPSTREAM', `'${imdsUpstream}' must be an http:// origin without a path`, 'Use http://169.254.169.254 (the default) or http://host:port.');
  }

  const passthroughPaths = r.list('PODIAM_PASSTHROUGH_PATHS') ?? [...DEFAULT_PASSTHROUGH_PATHS];
  for (const p of passthroughPaths) {
    const bad = !PASSTHROUGH_PATH.test(p) || p.includes('//') || p.split('/').some((s) => s === '.' || s === '..');
    if (bad) throw new ConfigError('PODIAM_PASSTHROUGH_PATHS', `'${p}' is not a plain IMDS path`, 'Use comma-separated paths such as /latest/meta-data/instance-id or /latest/meta-data/placement/.');
    const forbidden = FORBIDDEN_PASSTHROUGH_PREFIXES.find((f) => p === f || p.startsWith(`${f}/`) || (p.endsWith('/') && f.startsWith(p)));
    if (forbidden) {
      throw new ConfigError('PODIAM_PASSTHROUGH_PATHS', `'${p}' would expose ${forbidden}`, 'Remove it: user-data, the node role and identity credentials are never passed through.');
    }
  }

  const stsEndpoint = r.string('PODIAM_STS_ENDPOINT');
  if (stsEndpoint !== undefined) {
    try {
      new URL(stsEndpoint);
    } catch (cause) {
      throw new ConfigError('PODIAM_STS_ENDPOINT', `'${stsEndpoint}' is not a URL`, 'Use a URL such as https://sts.eu-west-1.amazonaws.com, or unset it for the regional endpoint.', { cause });
    }
  }

  const daemonSetName = r.string('PODIAM_DAEMONSET_NAME');
  const daemonSetNamespace = r.string('PODIAM_NAMESPACE', ['POD_NAMESPACE']);
  if (daemonSetName !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(daemonSetName)) {
    throw new ConfigError('PODIAM_DAEMONSET_NAME', `'${daemonSetName}' is not a Kubernetes object name`, 'Set it to the name of the DaemonSet that runs the proxy (the chart does this).');
  }
  if (daemonSetName !== undefined && (daemonSetNamespace === undefined || !isDnsLabel(daemonSetNamespace))) {
    throw new ConfigError('PODIAM_NAMESPACE', 'is not set to a namespace name while PODIAM_DAEMONSET_NAME is', 'Set it from the downward API (metadata.namespace); the chart does this.');
  }

  const logLevel = (r.string('PODIAM_LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVEL_NAMES.includes(logLevel)) throw new ConfigError('PODIAM_LOG_LEVEL', `'${logLevel}' is not a log level`, `Use one of ${LOG_LEVEL_NAMES.join(', ')}.`);

  // Refused, not obeyed: every managed role's trust requires the kubernetes-namespace session tag
  // (there is no switch), so a proxy that sent no tags could assume no managed role at all.
  if (!r.bool('PODIAM_SESSION_TAGS', true)) {
    throw new ConfigError(
      'PODIAM_SESSION_TAGS',
      'false is not supported: every managed role\'s trust requires the kubernetes-namespace session tag, so without session tags no managed role could be assumed',
      'Remove the setting (chart value sessionTags) or set it to true. A role outside podiam whose trust policy allows only sts:AssumeRole needs sts:TagSession added.',
    );
  }

  const config: ProxyConfig = {
    clusterName,
    nodeName,
    hostIp,
    listenAddress,
    port,
    metricsPort,
    hostInterface,
    iptables,
    iptablesCheckIntervalMs: r.int('PODIAM_IPTABLES_CHECK_INTERVAL_MS', 30_000, 100, 3_600_000),
    awsRegion,
    accountId,
    allowedAccounts,
    defaultRole,
    externalId,
    sessionDurationSeconds: r.int('PODIAM_SESSION_DURATION_SECONDS', MAX_CHAINED_SESSION_SECONDS, MIN_SESSION_SECONDS, MAX_CHAINED_SESSION_SECONDS),
    // IMDSv2 by default: with v1, an SSRF in a pod reads its credentials with one GET.
    requireImdsV2: r.bool('PODIAM_REQUIRE_IMDSV2', true),
    imdsUpstream: upstreamUrl.origin,
    passthroughPaths,
    stsEndpoint,
    // The SDKs give IMDS one second: the index wait and the STS wait must fit inside it together.
    indexWaitMs: r.int('PODIAM_INDEX_WAIT_MS', 300, 0, 900),
    // Capped at 5 minutes: the longer the window, the longer a deleted pod's IP reused during an
    // outage could still be answered for as the old pod (docs/security.md, stale pod index).
    staleIndexWindowMs: r.int('PODIAM_STALE_INDEX_WINDOW_MS', 90_000, 0, 300_000),
    credentialsWaitMs: r.int('PODIAM_CREDENTIALS_WAIT_MS', 600, 50, 900),
    prefetch: r.bool('PODIAM_PREFETCH', true),
    // Small: STS throttles per account, so a node starting 1,000 pods must not fire 1,000 calls.
    prefetchConcurrency: r.int('PODIAM_PREFETCH_CONCURRENCY', DEFAULT_PREFETCH_CONCURRENCY, 1, 64),
    events: r.bool('PODIAM_EVENTS', true),
    logLevel,
    kubeconfig: r.string('PODIAM_KUBECONFIG', ['KUBECONFIG']),
    shutdownGraceMs: r.int('PODIAM_SHUTDOWN_GRACE_MS', 5000, 0, 120_000),
    daemonSet: daemonSetName === undefined ? undefined : { name: daemonSetName, namespace: daemonSetNamespace! },
    firstByteTimeoutMs: r.int('PODIAM_FIRST_BYTE_TIMEOUT_MS', DEFAULT_CONNECTION_LIMITS.firstByteTimeoutMs, 100, 60_000),
    maxConnections: r.int('PODIAM_MAX_CONNECTIONS', DEFAULT_CONNECTION_LIMITS.maxConnections, 1, 1_000_000),
    maxConnectionsPerIp: r.int('PODIAM_MAX_CONNECTIONS_PER_IP', DEFAULT_CONNECTION_LIMITS.maxConnectionsPerIp, 1, 1_000_000),
    maxPipelined: r.int('PODIAM_MAX_PIPELINED', DEFAULT_CONNECTION_LIMITS.maxPipelined, 1, 10_000),
    maxRequestsPerSocket: r.int('PODIAM_MAX_REQUESTS_PER_SOCKET', DEFAULT_CONNECTION_LIMITS.maxRequestsPerSocket, 1, 1_000_000),
    tokenIdentity: r.bool('PODIAM_TOKEN_IDENTITY', false) ? tokenIdentitySettings(r) : undefined,
  };
  if (config.tokenIdentity && config.tokenIdentity.port !== 0 && (config.tokenIdentity.port === port || config.tokenIdentity.port === metricsPort)) {
    throw new ConfigError('PODIAM_TOKEN_PORT', `is the same as PODIAM_PORT or PODIAM_METRICS_PORT (${config.tokenIdentity.port})`, 'Use a port of its own for the token endpoint (default 8182).');
  }
  if (config.indexWaitMs + config.credentialsWaitMs > 950) {
    throw new ConfigError('PODIAM_INDEX_WAIT_MS', `plus PODIAM_CREDENTIALS_WAIT_MS is ${config.indexWaitMs + config.credentialsWaitMs} ms`, 'Keep the two together under 950 ms: the AWS SDKs give IMDS one second.');
  }
  return Object.freeze(config);
}

function tokenIdentitySettings(r: Reader): NonNullable<ProxyConfig['tokenIdentity']> {
  const audience = r.string('PODIAM_TOKEN_AUDIENCE') ?? 'podiam';
  if (!/^[\x21-\x2b\x2d-\x7e]{1,256}$/.test(audience)) throw new ConfigError('PODIAM_TOKEN_AUDIENCE', `'${audience}' is not one audience`, 'Use 1-256 printable characters without spaces or commas, the same value as the admission function\'s PODIAM_TOKEN_AUDIENCE (default podiam).');
  const issuer = r.string('PODIAM_TOKEN_ISSUER');
  if (issuer !== undefined && !/^https:\/\/\S+$/.test(issuer)) throw new ConfigError('PODIAM_TOKEN_ISSUER', `'${issuer}' is not an https:// issuer`, "Use the API server's --service-account-issuer, or unset it to read it from the API server's discovery document.");
  return { port: r.int('PODIAM_TOKEN_PORT', 8182, 0, 65535), audience, issuer };
}

/** Every variable parseConfig reads, for docs and the chart. */
export const CONFIG_VARIABLES = [
  'PODIAM_CLUSTER_NAME', 'PODIAM_NODE_NAME', 'PODIAM_HOST_IP', 'PODIAM_LISTEN_ADDRESS', 'PODIAM_PORT', 'PODIAM_METRICS_PORT',
  'PODIAM_HOST_INTERFACE', 'PODIAM_IPTABLES', 'PODIAM_IPTABLES_CHECK_INTERVAL_MS', 'PODIAM_AWS_REGION', 'PODIAM_ACCOUNT_ID',
  'PODIAM_ALLOWED_ACCOUNTS', 'PODIAM_DEFAULT_ROLE', 'PODIAM_EXTERNAL_ID', 'PODIAM_SESSION_TAGS', 'PODIAM_SESSION_DURATION_SECONDS',
  'PODIAM_REQUIRE_IMDSV2', 'PODIAM_IMDS_UPSTREAM', 'PODIAM_PASSTHROUGH_PATHS', 'PODIAM_STS_ENDPOINT', 'PODIAM_INDEX_WAIT_MS', 'PODIAM_STALE_INDEX_WINDOW_MS',
  'PODIAM_CREDENTIALS_WAIT_MS', 'PODIAM_PREFETCH', 'PODIAM_PREFETCH_CONCURRENCY', 'PODIAM_EVENTS', 'PODIAM_LOG_LEVEL', 'PODIAM_KUBECONFIG', 'PODIAM_SHUTDOWN_GRACE_MS',
  'PODIAM_DAEMONSET_NAME', 'PODIAM_NAMESPACE', 'PODIAM_FIRST_BYTE_TIMEOUT_MS', 'PODIAM_MAX_CONNECTIONS', 'PODIAM_MAX_CONNECTIONS_PER_IP', 'PODIAM_MAX_PIPELINED', 'PODIAM_MAX_REQUESTS_PER_SOCKET',
  'PODIAM_TOKEN_IDENTITY', 'PODIAM_TOKEN_PORT', 'PODIAM_TOKEN_AUDIENCE', 'PODIAM_TOKEN_ISSUER',
] as const;
