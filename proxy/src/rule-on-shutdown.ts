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
 *
 * The DaemonSet is watched, not only read at shutdown: `helm uninstall` deletes the DaemonSet and,
 * milliseconds later, the ServiceAccount and RBAC this proxy reads it with, so by the time the
 * garbage collector stops the proxy a GET answers 401/403 ("unknown": keep). The watch, opened while
 * the rights were there, has already delivered the deletion (seen on a real node: the rule stayed
 * after every uninstall until this watch was added; test/integration/node/chart-on-node.test.ts).
 */
import type { KubeClient } from './k8s/api-client.ts';
import { kubeListWatch, Reflector } from './k8s/reflector.ts';
import type { EventType, ReflectorSink } from './k8s/store.ts';

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
export function daemonSetState(client: KubeClient, owner: OwnerRef, timeoutMs = 2000): () => Promise<OwnerState> {
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(owner.namespace)}/daemonsets/${encodeURIComponent(owner.name)}`;
  return async () => {
    const timeout = new Promise<OwnerState>((resolve) => setTimeout(() => resolve('unknown'), timeoutMs).unref());
    const lookup = client.getJson<DaemonSetObject>(path, { timeoutMs }).then(
      (ds): OwnerState => (ds.metadata?.deletionTimestamp ? 'deleting' : 'present'),
      (err: unknown): OwnerState => ((err as { statusCode?: number }).statusCode === 404 ? 'gone' : 'unknown'),
    );
    return Promise.race([lookup, timeout]);
  };
}

interface DaemonSetObject {
  metadata?: { name?: string; deletionTimestamp?: unknown };
}

/**
 * The last word of a list and watch of this one DaemonSet (field selector metadata.name). Pure: fed
 * by a Reflector. A deletion once seen is kept through a broken watch: a relist that can no longer
 * be authorized (the release's RBAC went with it) must not turn it back into "unknown".
 */
export class DaemonSetSighting implements ReflectorSink<DaemonSetObject> {
  private seen: OwnerState = 'unknown';
  private listed = false;
  private listedAny = false;

  constructor(private readonly name: string) {}

  get state(): OwnerState {
    return this.seen;
  }

  private see(obj: DaemonSetObject, deleted: boolean): void {
    if (obj.metadata?.name !== this.name) return;
    this.seen = deleted ? 'gone' : obj.metadata.deletionTimestamp ? 'deleting' : 'present';
  }

  beginRelist(): void {
    this.listed = false;
    this.listedAny = false;
  }

  addListed(items: Iterable<DaemonSetObject>): void {
    for (const item of items) {
      if (item.metadata?.name === this.name) this.listedAny = true;
      this.see(item, false);
    }
  }

  endRelist(): void {
    this.listed = true;
    if (!this.listedAny) this.seen = 'gone';
  }

  apply(type: EventType, obj: DaemonSetObject): void {
    this.see(obj, type === 'DELETED');
  }

  markUnsynced(): void {
    // Keep the last state: see the class comment.
  }

  get synced(): boolean {
    return this.listed;
  }
}

export interface OwnerWatch {
  start(): void;
  stop(): void;
  /** At shutdown: a deletion the watch saw wins; otherwise the API server is asked afresh. */
  state(): Promise<OwnerState>;
}

/** Watches the DaemonSet (RBAC: get, list, watch on that one DaemonSet) and answers at shutdown. */
export function watchDaemonSet(client: KubeClient, owner: OwnerRef, timeoutMs = 2000): OwnerWatch {
  const sighting = new DaemonSetSighting(owner.name);
  const fieldSelector = `metadata.name=${owner.name}`;
  const reflector = new Reflector<DaemonSetObject>({
    source: kubeListWatch({ client, path: `/apis/apps/v1/namespaces/${encodeURIComponent(owner.namespace)}/daemonsets`, fieldSelector }),
    sink: sighting,
  });
  const ask = daemonSetState(client, owner, timeoutMs);
  return {
    start: () => void reflector.start(),
    stop: () => reflector.stop(),
    state: async () => (sighting.state === 'gone' || sighting.state === 'deleting' ? sighting.state : ask()),
  };
}
