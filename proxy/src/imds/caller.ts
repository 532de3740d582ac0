/**
 * Who is calling and which role they may have: source IP → pod (by the index) → decideRole.
 * Every outcome other than an allowed role is thrown as a coded error; a denial is also
 * reported as an Event on the pod.
 */
import { IP_IDENTITY_ANNOTATION, SESSION_TAG_KEYS } from '../../../core/src/annotations.ts';
import { PodiamError, errorCodes } from '../../../core/src/errors.ts';
import { podSessionName } from '../../../core/src/naming.ts';
import { decideRole, type ClusterSettings, type NamespaceFacts, type RoleDecision } from '../../../core/src/role-decision.ts';
import { ProxyError } from '../errors.ts';
import type { DenialEvents } from '../k8s/events.ts';
import type { PodLookup, PodRecord } from '../k8s/pod-index.ts';
import type { Logger } from '../log.ts';
import type { AssumeRequest } from '../sts/types.ts';

export type AllowDecision = Extract<RoleDecision, { kind: 'allow' }>;

export interface NamespaceLookup {
  facts(name: string): NamespaceFacts;
}

export interface CallerRolesOptions {
  pods: PodLookup;
  namespaces: NamespaceLookup;
  settings: ClusterSettings;
  indexWaitMs: number;
  sessionDurationSeconds: number;
  /** Sent for pods that do not set iam.amazonaws.com/external-id; the pod's own value wins. */
  defaultExternalId?: string | undefined;
  denials?: DenialEvents | undefined;
  logger: Logger;
}

export interface CallerRole {
  pod: PodRecord;
  decision: AllowDecision;
}

// STS accepts tag values of letters, digits, spaces and _.:/=+-@, up to 256 characters.
function tagValue(v: string): string {
  return v.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-').slice(0, 256);
}

interface Memo {
  nsAnnotations: Record<string, string> | undefined;
  decision: RoleDecision;
  /** The namespace's podiam.io/ip-identity is `disabled`: read with the decision, from the same annotations. */
  ipIdentityDisabled: boolean;
  request?: AssumeRequest;
}

export class CallerRoles {
  /**
   * decideRole is pure, so its answer is kept per pod record and namespace annotations object.
   * Both indexes replace (never mutate) those objects on every change, so a changed annotation
   * always misses here and is decided afresh.
   */
  private readonly memo = new WeakMap<PodRecord, Memo>();

  constructor(private readonly o: CallerRolesOptions) {}

  /** The decision alone, for prefetch and tests: no lookup, no side effects. */
  decide(pod: PodRecord): RoleDecision {
    return this.memoOf(pod).decision;
  }

  private memoOf(pod: PodRecord): Memo {
    const ns = this.o.namespaces.facts(pod.namespace);
    const memo = this.memo.get(pod);
    if (memo && memo.nsAnnotations === ns.annotations) return memo;
    const fresh: Memo = {
      nsAnnotations: ns.annotations,
      decision: decideRole({ namespace: pod.namespace, name: pod.name, annotations: pod.annotations }, ns, this.o.settings),
      ipIdentityDisabled: ns.annotations?.[IP_IDENTITY_ANNOTATION] === 'disabled',
    };
    this.memo.set(pod, fresh);
    return fresh;
  }

  /**
   * The caller's allowed role when that is known at once (its pod indexed, fresh, and allowed);
   * undefined for everything else, which resolve() answers or refuses. Synchronous: the hot path.
   */
  resolveNow(ip: string): CallerRole | undefined {
    const pod = this.o.pods.findNow?.(ip);
    if (!pod) return undefined;
    const { decision, ipIdentityDisabled } = this.memoOf(pod);
    return decision.kind === 'allow' && !ipIdentityDisabled ? { pod, decision } : undefined;
  }

  async resolve(ip: string): Promise<CallerRole> {
    const found = await this.o.pods.find(ip, this.o.indexWaitMs);
    switch (found.kind) {
      case 'not-synced':
        throw new ProxyError('PODIAM_POD_INDEX_NOT_SYNCED');
      case 'unknown':
        throw new ProxyError('PODIAM_POD_UNKNOWN', `no pod with IP ${ip} on this node`);
      case 'conflict':
        throw new ProxyError('PODIAM_POD_IP_CONFLICT', `IP ${ip} is claimed by ${found.pods.map((p) => `${p.namespace}/${p.name}`).join(' and ')}`);
      case 'pod':
        break;
    }
    const pod = found.pod;
    // SECURITY: a namespace that moved to token identity is not served by source IP at all, so a
    // neighbour that forges or inherits one of its pods' addresses gets nothing on this path.
    if (this.ipIdentityDisabled(pod)) {
      throw new ProxyError('PODIAM_IP_IDENTITY_DISABLED', `namespace ${pod.namespace} has ${IP_IDENTITY_ANNOTATION}: disabled`);
    }
    return { pod, decision: this.allowed(pod) };
  }

  /** Whether the pod's namespace takes credentials by token only. */
  ipIdentityDisabled(pod: PodRecord): boolean {
    return this.memoOf(pod).ipIdentityDisabled;
  }

  /** The pod's allowed role, or the refusal thrown (a denial is also recorded as an Event). */
  allowed(pod: PodRecord): AllowDecision {
    const decision = this.decide(pod);
    if (decision.kind === 'none') throw new ProxyError('PODIAM_NO_ROLE', decision.reason);
    if (decision.kind === 'deny') {
      this.o.denials?.denied(pod, decision).catch((err: unknown) => {
        this.o.logger.warn({ err, pod: `${pod.namespace}/${pod.name}` }, 'could not record the denial as a Kubernetes Event');
      });
      const fix = (errorCodes as Record<string, { fix: string }>)[String(decision.code)]?.fix ?? '';
      throw new PodiamError(decision.code, `${decision.reason}. ${fix}`.trim(), { status: 403 });
    }
    return decision;
  }

  assumeRequest(pod: PodRecord, decision: AllowDecision): AssumeRequest {
    const memo = this.memo.get(pod);
    if (memo?.decision === decision && memo.request) return memo.request;
    const request = this.buildRequest(pod, decision);
    if (memo?.decision === decision) memo.request = request;
    return request;
  }

  private buildRequest(pod: PodRecord, decision: AllowDecision): AssumeRequest {
    // Always sent: every managed role's trust requires kubernetes-namespace to equal the role's
    // namespace, which is what keeps one namespace's pods out of another's roles at STS too.
    const tags = [
      { Key: SESSION_TAG_KEYS.cluster, Value: tagValue(this.o.settings.cluster) },
      { Key: SESSION_TAG_KEYS.namespace, Value: tagValue(pod.namespace) },
      { Key: SESSION_TAG_KEYS.podName, Value: tagValue(pod.name) },
      { Key: SESSION_TAG_KEYS.podUid, Value: tagValue(pod.uid) },
      { Key: SESSION_TAG_KEYS.serviceAccount, Value: tagValue(pod.serviceAccount) },
    ];
    return {
      roleArn: decision.role.arn,
      sessionName: podSessionName(pod.namespace, pod.name),
      externalId: decision.externalId ?? this.o.defaultExternalId,
      durationSeconds: decision.sessionSeconds ?? this.o.sessionDurationSeconds,
      tags,
    };
  }
}
