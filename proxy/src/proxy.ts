/**
 * startProxy: everything wired, in-process. main.ts calls it with the parsed config; tests, the
 * demo and the benchmark call it too, so they exercise the real thing. Optional dependencies
 * (a pod index fed by the caller, a credential source, an iptables runner) exist for tests that
 * do not run every peer; left out, the real ones are built from the config.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { describeError } from '../../core/src/errors.ts';
import type { ClusterSettings } from '../../core/src/role-decision.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ProxyConfig } from './config.ts';
import { ProxyError } from './errors.ts';
import { CallerRoles } from './imds/caller.ts';
import { TokenIssuer } from './imds/token.ts';
import { ImdsUpstream } from './imds/upstream.ts';
import { IptablesRule, execIptables, type IptablesRunner } from './iptables.ts';
import { KubeClient } from './k8s/api-client.ts';
import { KubeDenialEvents, type DenialEvents } from './k8s/events.ts';
import { NamespaceIndex, type NamespaceObject } from './k8s/namespace-index.ts';
import { PodIndex, type PodObject, type PodRecord } from './k8s/pod-index.ts';
import { Reflector, kubeListWatch } from './k8s/reflector.ts';
import { revocationCutoff } from './k8s/revocation.ts';
import { StaleTolerantLookup } from './k8s/stale-lookup.ts';
import { decideRuleOnShutdown, watchDaemonSet, type OwnerState } from './rule-on-shutdown.ts';
import { createLogger, type Logger } from './log.ts';
import { ProxyMetrics } from './metrics.ts';
import { createImdsServer, createMetricsServer, createTokenServer, type ServerDeps } from './server.ts';
import { IssuerKeys, apiServerIssuer, type IssuerSource } from './token/issuer-keys.ts';
import { TokenVerifier } from './token/verifier.ts';
import { CredentialCache, type CacheTiming } from './sts/credential-cache.ts';
import { StsGateway } from './sts/gateway.ts';
import type { CredentialSource } from './sts/types.ts';

export interface ProxyDeps {
  logger?: Logger;
  /** The API server client; default: PODIAM_KUBECONFIG's current context, else the pod's service account. */
  kube?: KubeClient;
  /** Tests without an API server: an index the caller feeds (pods and namespaces), no reflectors. */
  indexes?: { pods: PodIndex; namespaces: NamespaceIndex };
  denials?: DenialEvents;
  credentialSource?: CredentialSource;
  iptablesRunner?: IptablesRunner;
  clock?: Clock;
  cacheTiming?: Partial<CacheTiming>;
  defaultMetrics?: boolean;
  /** What became of the proxy's DaemonSet, asked on stop; default: the API server, when named. */
  ownerState?: () => Promise<OwnerState>;
  /** The service-account issuer's keys for the token door; default: the API server's discovery documents. */
  issuerSource?: IssuerSource;
}

export interface RunningProxy {
  port: number;
  /** The token door's port, when config.tokenIdentity is set. */
  tokenPort: number | undefined;
  metricsPort: number | undefined;
  /** Resolves when the pod index has synced and the iptables rule is in place. */
  ready: Promise<void>;
  isReady(): boolean;
  pods: PodIndex;
  namespaces: NamespaceIndex;
  cache: CredentialCache;
  metrics: ProxyMetrics;
  settings: ClusterSettings;
  stop(): Promise<void>;
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

export async function startProxy(config: ProxyConfig, deps: ProxyDeps = {}): Promise<RunningProxy> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const metrics = new ProxyMetrics(deps.defaultMetrics ?? true);
  const clock = deps.clock ?? systemClock;
  const upstream = new ImdsUpstream(config.imdsUpstream);

  let accountId = config.accountId;
  let region = config.awsRegion;
  if (!accountId || !region) {
    try {
      const doc = await upstream.identityDocument();
      accountId ??= doc.accountId;
      region ??= doc.region;
    } catch (cause) {
      await upstream.close();
      throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', 'could not read the account and region from the instance identity document; set PODIAM_ACCOUNT_ID and PODIAM_AWS_REGION', { cause });
    }
  }
  const settings: ClusterSettings = {
    cluster: config.clusterName,
    accountId: accountId!,
    partition: partitionOf(region!),
    allowedAccounts: config.allowedAccounts,
    defaultRole: config.defaultRole,
  };

  const gateway = deps.credentialSource
    ? undefined
    : new StsGateway({ region: region!, endpoint: config.stsEndpoint, credentials: () => upstream.nodeCredentials() });
  const source = deps.credentialSource ?? gateway!;
  const cache = new CredentialCache({
    source,
    clock,
    concurrency: config.prefetchConcurrency,
    ...(deps.cacheTiming ? { timing: deps.cacheTiming } : {}),
    events: {
      hit: () => metrics.countHit(),
      miss: () => metrics.cacheMisses.inc(),
      stsCall: () => metrics.stsCalls.inc(),
      stsError: (err, uid, request) => {
        const { code, message } = describeError(err);
        metrics.stsErrors.inc({ error: code });
        const tag = (key: string) => request.tags.find((t) => t.Key === key)?.Value;
        logger.warn(
          { code, message, roleArn: request.roleArn, uid, namespace: tag('kubernetes-namespace'), pod: tag('kubernetes-pod-name'), sessionName: request.sessionName },
          'AssumeRole failed',
        );
      },
      refreshFailed: (uid) => logger.warn({ uid }, 'background credential refresh failed; serving cached credentials while they last'),
    },
  });

  const pods = deps.indexes?.pods ?? new PodIndex();
  const namespaces = deps.indexes?.namespaces ?? new NamespaceIndex();
  const reflectors: Array<Reflector<PodObject> | Reflector<NamespaceObject>> = [];
  let denials = deps.denials;
  let kubeSync: Promise<void> = Promise.resolve();
  let ownerState: () => Promise<OwnerState> = deps.ownerState ?? (() => Promise.resolve(config.daemonSet ? 'unknown' : 'not-configured'));
  let stopOwnerWatch: () => void = () => undefined;
  // One client (one keep-alive Agent) for the indexes, the owner watch, Events and the issuer's keys.
  let kubeClient: Promise<KubeClient> | undefined;
  const kube = (): Promise<KubeClient> =>
    (kubeClient ??= deps.kube ? Promise.resolve(deps.kube) : config.kubeconfig ? KubeClient.fromKubeconfigFile(config.kubeconfig) : Promise.resolve(KubeClient.inCluster()));
  if (!deps.indexes) {
    const client = await kube();
    if (!deps.ownerState && config.daemonSet) {
      const ownerWatch = watchDaemonSet(client, config.daemonSet);
      ownerWatch.start();
      stopOwnerWatch = () => ownerWatch.stop();
      ownerState = () => ownerWatch.state();
    }
    if (config.events) denials ??= new KubeDenialEvents(client, { nodeName: config.nodeName });
    const nsReflector = new Reflector<NamespaceObject>({
      source: kubeListWatch({ client, path: '/api/v1/namespaces' }),
      sink: namespaces,
      clock,
      events: { relist: () => metrics.relists.inc({ resource: 'namespaces' }), watchError: (err) => logger.warn({ err: describeError(err) }, 'namespace watch failed; listing again') },
    });
    const podReflector = new Reflector<PodObject>({
      source: kubeListWatch({ client, path: '/api/v1/pods', fieldSelector: `spec.nodeName=${config.nodeName}` }),
      sink: pods,
      clock,
      events: {
        listed: (n) => logger.info({ pods: n }, 'pods of this node listed'),
        relist: () => metrics.relists.inc({ resource: 'pods' }),
        watchError: (err) => logger.warn({ err: describeError(err) }, 'pod watch failed; listing again'),
      },
    });
    reflectors.push(nsReflector, podReflector);
    // Namespaces first: a pod's decision reads its namespace's annotations.
    kubeSync = nsReflector.start().then(() => podReflector.start());
  }

  const lookup = new StaleTolerantLookup({
    pods,
    namespaces,
    windowMs: config.staleIndexWindowMs,
    clock,
    events: {
      staleStarted: (ageMs) =>
        logger.warn({ ageMs, windowMs: config.staleIndexWindowMs }, 'the pod or namespace watch is broken; answering pods known before the break until the window ends, unknown IPs get 503'),
      staleAnswer: () => metrics.staleAnswers.inc(),
      ownerChanged: (ip, served, now) => {
        metrics.staleOwnerChanged.inc();
        const holder = now.kind === 'pod' ? `${now.pod.namespace}/${now.pod.name} (uid ${now.pod.uid})` : now.kind;
        logger.warn(
          { ip, servedPod: `${served.namespace}/${served.name}`, servedUid: served.uid, nowHeldBy: holder },
          "an IP answered from the stale index no longer belongs to that pod: whoever held it during the outage may have received that pod's credentials",
        );
      },
    },
  });
  metrics.staleAgeSeconds = () => {
    const f = lookup.freshness();
    return f.kind === 'stale' || f.kind === 'expired' ? f.ageMs / 1000 : 0;
  };

  const roles = new CallerRoles({
    pods: lookup,
    namespaces,
    settings,
    indexWaitMs: config.indexWaitMs,
    defaultExternalId: config.externalId,
    sessionDurationSeconds: config.sessionDurationSeconds,
    denials,
    logger,
  });

  // Prefetch for pods that may have a role; forget credentials of pods that may not (any more).
  const reconsider = (pod: PodRecord): void => {
    const decision = roles.decide(pod);
    if (decision.kind !== 'allow') return cache.evict(pod.uid);
    const revocation = revocationCutoff(namespaces.facts(pod.namespace).annotations, clock.now());
    if (revocation.kind === 'cutoff' && cache.evictIssuedBefore(pod.uid, revocation.atMs)) {
      metrics.revokedEvictions.inc();
      logger.info({ namespace: pod.namespace, pod: pod.name }, 'dropped credentials issued before the namespace revoked its sessions');
    }
    if (config.prefetch) cache.prefetch(pod.uid, roles.assumeRequest(pod, decision));
  };
  pods.onChange((change) => {
    metrics.podsIndexed.set(pods.size);
    if (change.type === 'deleted') cache.evict(change.key);
    else reconsider(change.record);
  });
  // Also on deletion (by a watch event or found by a relist): the namespace's pods now get the
  // strictest rules, and credentials they may no longer have are dropped.
  namespaces.onChange(({ key: name }) => {
    const revocation = revocationCutoff(namespaces.facts(name).annotations, clock.now());
    if (revocation.kind === 'invalid') logger.warn({ namespace: name, code: 'PODIAM_NAMESPACE_ANNOTATION_INVALID' }, revocation.reason);
    for (const pod of pods.all()) if (pod.namespace === name) reconsider(pod);
  });

  const rule = config.iptables
    ? new IptablesRule({ hostInterface: config.hostInterface, hostIp: config.hostIp, port: config.port, tokenPort: config.tokenIdentity?.port }, deps.iptablesRunner ?? execIptables, {
        restored: () => {
          metrics.iptablesRestored.inc();
          logger.warn('the iptables DNAT rule was missing and has been added again');
        },
        checkFailed: (err) => logger.error({ err: describeError(err) }, 'checking the iptables DNAT rule failed'),
      })
    : undefined;

  let readyFlag = false;
  // Ready while stale too: the proxy still answers the pods it knows, and an unready DaemonSet pod
  // would stall a rollout for an API blip. Past the window it answers no pod: unready, as before.
  const indexUsable = (): boolean => {
    const kind = lookup.freshness().kind;
    return kind === 'fresh' || kind === 'stale';
  };
  const isReady = (): boolean => readyFlag && indexUsable() && (rule ? rule.inPlace : true);
  // One set of needs and limits for both listeners: the token door reads tokenDoor as well.
  const serverDeps: ServerDeps = {
    requireImdsV2: config.requireImdsV2,
    passthroughPaths: config.passthroughPaths,
    credentialsWaitMs: config.credentialsWaitMs,
    tokens: new TokenIssuer(),
    roles,
    cache,
    upstream,
    ready: isReady,
    logger,
    metrics,
  };
  const listenerLimits = {
    connections: {
      firstByteTimeoutMs: config.firstByteTimeoutMs,
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      maxPipelined: config.maxPipelined,
      maxRequestsPerSocket: config.maxRequestsPerSocket,
    },
  };
  const server = createImdsServer(serverDeps, listenerLimits);
  const port = await listen(server, config.port, config.listenAddress);

  // The token door: the same decision (roles), index (lookup) and credential cache as above.
  const tokenIdentity = config.tokenIdentity;
  let tokenServer: Server | undefined;
  if (tokenIdentity) {
    const keys = new IssuerKeys({
      source: deps.issuerSource ?? apiServerIssuer(await kube()),
      clock,
      issuer: tokenIdentity.issuer,
      events: {
        refreshed: (n) => logger.info({ keys: n }, "read the service-account issuer's keys"),
        failed: (err) => logger.warn({ err: describeError(err), code: 'PODIAM_TOKEN_KEYS_UNAVAILABLE' }, "could not read the service-account issuer's keys"),
      },
    });
    // Read the keys now, so the first pod to ask does not wait for the API server (a failure is
    // logged by the events above and retried on the first request).
    keys.issuer().catch(() => undefined);
    tokenServer = createTokenServer(
      {
        ...serverDeps,
        tokenDoor: {
          verifier: new TokenVerifier({ keys, audience: tokenIdentity.audience, clock }),
          lookup,
          pods,
          roles,
          cache,
          accountId: settings.accountId,
          indexWaitMs: config.indexWaitMs,
          credentialsWaitMs: config.credentialsWaitMs,
        },
      },
      listenerLimits,
    );
  }
  const tokenPort = tokenServer && tokenIdentity ? await listen(tokenServer, tokenIdentity.port, config.listenAddress) : undefined;
  const metricsServer = config.metricsPort >= 0 ? createMetricsServer(metrics, isReady) : undefined;
  const metricsPort = metricsServer ? await listen(metricsServer, config.metricsPort, config.listenAddress) : undefined;

  let stopped = false;
  const ready = (async () => {
    if (rule) {
      rule.start(config.iptablesCheckIntervalMs);
      // Keep trying (e.g. the xtables lock is busy, or NET_ADMIN is missing and gets fixed):
      // the proxy is not ready without its rule, and must not give up while it runs.
      for (let attempt = 0; !stopped; attempt++) {
        try {
          await rule.ensure();
          // A predecessor keeps its rules across a restart; drop those that differ from ours.
          const outdated = await rule.removeOutdated();
          if (outdated) logger.info({ outdated }, "removed a previous proxy's iptables rules that differ from this one's");
          break;
        } catch (err) {
          logger.error({ err: describeError(err), attempt }, 'could not add the iptables DNAT rule; retrying');
          await clock.sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
        }
      }
    }
    await kubeSync;
    if (deps.indexes) await Promise.all([pods.whenSynced()]);
    readyFlag = true;
    logger.info({ port, metricsPort, pods: pods.size }, 'podiam proxy ready');
  })();
  ready.catch((err: unknown) => logger.error({ err: describeError(err) }, 'the proxy did not become ready'));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      stopped = true;
      readyFlag = false;
      await Promise.all([
        closeServer(server, config.shutdownGraceMs),
        tokenServer ? closeServer(tokenServer, config.shutdownGraceMs) : undefined,
        metricsServer ? closeServer(metricsServer, 0) : undefined,
      ]);
      if (rule) {
        const decision = decideRuleOnShutdown(await ownerState());
        logger.info({ action: decision.action }, `iptables rules on shutdown: ${decision.action}, because ${decision.reason}`);
        try {
          if (decision.action === 'remove') await rule.remove();
          else rule.stop();
        } catch (err) {
          logger.error({ err: describeError(err) }, 'could not remove the iptables rules');
        }
      }
      for (const r of reflectors) r.stop();
      stopOwnerWatch();
      cache.clear();
      gateway?.destroy();
      // Its idle keep-alive connections; a client the caller passed is the caller's to close.
      if (!deps.kube) void kubeClient?.then((c) => c.close(), () => undefined);
      await upstream.close();
    })());

  return { port, tokenPort, metricsPort, ready, isReady, pods, namespaces, cache, metrics, settings, stop };
}
