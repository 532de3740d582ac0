/**
 * A denial becomes a Kubernetes Event on the pod, so `kubectl describe pod` says why it got 403.
 * Pods retry IMDS often: one Event per pod and code per `intervalMs` is enough.
 */
import type { KubeClient } from './api-client.ts';
import type { PodRecord } from './pod-index.ts';

export interface Denial {
  code: string;
  reason: string;
  requested: string;
}

export interface DenialEvents {
  denied(pod: PodRecord, denial: Denial): Promise<void>;
}

export const EVENT_REASON = 'PodiamRoleDenied';

export class KubeDenialEvents implements DenialEvents {
  private readonly lastSent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly component: { nodeName: string },
    private readonly intervalMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async denied(pod: PodRecord, denial: Denial): Promise<void> {
    const key = `${pod.uid}|${denial.code}`;
    const last = this.lastSent.get(key);
    const now = this.now();
    if (last !== undefined && now - last < this.intervalMs) return;
    this.lastSent.set(key, now);
    if (this.lastSent.size > 10_000) this.prune(now);
    const time = new Date(now);
    await this.client.postJson(`/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${pod.name}.podiam-`, namespace: pod.namespace },
      involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid },
      reason: EVENT_REASON,
      type: 'Warning',
      message: `${denial.code}: ${denial.reason}`.slice(0, 1024),
      source: { component: 'podiam-proxy', host: this.component.nodeName },
      reportingComponent: 'podiam.io/proxy',
      reportingInstance: this.component.nodeName,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    });
  }

  private prune(now: number): void {
    for (const [k, t] of this.lastSent) if (now - t >= this.intervalMs) this.lastSent.delete(k);
  }
}
