/**
 * Whether a stopping proxy removes its iptables rules.
 *
 * Threat: while no proxy listens (a rolling update, a crash, an eviction), pods whose metadata
 * traffic is no longer sent anywhere reach the node's real IMDS — the node role's credentials,
 * wherever the hop limit allows. So a proxy that is being replaced keeps its rules: the DNAT
 * target then refuses the connection (nothing listens), the SDKs retry, and the next proxy takes
 * the rules over. Only when the release is going away (its DaemonSet deleted) are they removed,
 * so `helm uninstall` leaves nodes clean. When it cannot tell, it keeps them: a leftover rule
 * fails closed (connection refused), an open IMDS does not.
 */
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';

/** What became of the DaemonSet that runs this proxy. */
export type OwnerState = 'present' | 'deleting' | 'gone' | 'unknown' | 'not-configured';

export interface RuleShutdownDecision {
  action: 'keep' | 'remove';
  reason: string;
}

export function decideRuleOnShutdown(owner: OwnerState): RuleShutdownDecision {
  switch (owner) {
    case 'present':
      return { action: 'keep', reason: 'its DaemonSet remains, so a new proxy takes over the rules; until then pods are refused, never sent to the node IMDS' };
    case 'deleting':
    case 'gone':
      return { action: 'remove', reason: 'its DaemonSet is being deleted (uninstall): the node is left clean' };
    case 'unknown':
      return { action: 'keep', reason: 'the API server could not say whether its DaemonSet remains; keeping the rules fails closed' };
    case 'not-configured':
      return { action: 'remove', reason: 'no DaemonSet is named (PODIAM_DAEMONSET_NAME): run outside the chart, the proxy cleans up after itself' };
  }
}

export interface OwnerRef {
  namespace: string;
  name: string;
}

/** Asks the API server about the DaemonSet (RBAC: get on that one DaemonSet). */
export function daemonSetState(kubeConfig: KubeConfig, owner: OwnerRef, timeoutMs = 2000): () => Promise<OwnerState> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  return async () => {
    const timeout = new Promise<OwnerState>((resolve) => setTimeout(() => resolve('unknown'), timeoutMs).unref());
    const lookup = apps.readNamespacedDaemonSet({ name: owner.name, namespace: owner.namespace }).then(
      (ds): OwnerState => (ds.metadata?.deletionTimestamp ? 'deleting' : 'present'),
      (err: unknown): OwnerState => ((err as { code?: number }).code === 404 ? 'gone' : 'unknown'),
    );
    return Promise.race([lookup, timeout]);
  };
}
