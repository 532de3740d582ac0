/**
 * What a reconcile event asks for. Pure: the event in, a request (or a reason to ignore it) out.
 *   - S3 "Object Created" for the bundle key (EventBridge notifications of the bundle bucket)
 *   - the hourly ScheduledEvent
 *   - CloudTrail "AWS API Call via CloudTrail" from aws.iam naming one role: drift, repaired
 *     for that role only; a change of the intermediate (node proxy) role's assume policy, the
 *     other half of every trust link, repairs the whole cluster
 *   - a manual `{"action": "reconcile"}` (aws lambda invoke, the demo)
 */
import type { EventBridgeEvent, ScheduledEvent } from 'aws-lambda';
import type { FunctionsConfig } from '../lib/config.ts';
import { INTERMEDIATE_POLICY_NAME } from '../../iam-model/src/trust.ts';
import { parseRoleArn } from '../../core/src/naming.ts';
import type { ReconcileRequest } from '../lib/reconcile.ts';

export interface S3ObjectCreatedDetail {
  bucket: { name: string };
  object: { key: string; size?: number; etag?: string; 'version-id'?: string };
  reason?: string;
}

export interface CloudTrailDetail {
  eventSource: string;
  eventName: string;
  requestParameters?: { roleName?: string; policyName?: string } | null;
  errorCode?: string;
  userIdentity?: { arn?: string; type?: string; sessionContext?: { sessionIssuer?: { arn?: string } } };
}

export type ReconcileEvent =
  | EventBridgeEvent<'Object Created', S3ObjectCreatedDetail>
  | ScheduledEvent
  | EventBridgeEvent<'AWS API Call via CloudTrail', CloudTrailDetail>
  | { action: 'reconcile'; roles?: string[]; trigger?: string };

export type EventDecision = { run: true; request: ReconcileRequest } | { run: false; reason: string };

const ROLE_LIFECYCLE = new Set(['CreateRole', 'DeleteRole']);

/** CreateRole/DeleteRole of a role that is neither managed nor configured: only the rotation state can say whether it is an intermediate role. */
export function needsRotationState(event: unknown, config: Pick<FunctionsConfig, 'cluster'> & Partial<Pick<FunctionsConfig, 'intermediateRoleArns'>>): boolean {
  const e = (event ?? {}) as { source?: unknown; detail?: CloudTrailDetail };
  const roleName = e.detail?.requestParameters?.roleName ?? '';
  if (e.source !== 'aws.iam' || !ROLE_LIFECYCLE.has(e.detail?.eventName ?? '') || e.detail?.errorCode || !roleName) return false;
  return !roleName.startsWith(`${config.cluster}.`) && !(config.intermediateRoleArns ?? []).some((arn) => parseRoleArn(arn)?.name === roleName);
}

export function requestFor(
  event: unknown,
  config: Pick<FunctionsConfig, 'cluster' | 'bundleBucket' | 'bundleKey' | 'selfRoleArn'> & Partial<Pick<FunctionsConfig, 'intermediateRoleArns'>>,
  /** Intermediate roles a rotation added (the rotation state's `added`), not yet in the stack's parameter. */
  rotationAdded: readonly string[] = [],
): EventDecision {
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.action === 'reconcile') {
    const roles = Array.isArray(e.roles) ? e.roles.filter((r): r is string => typeof r === 'string') : undefined;
    // `trigger` is only a label for the log (rotate names its action there).
    const trigger = typeof e.trigger === 'string' && e.trigger ? `manual (${e.trigger.slice(0, 100)})` : 'manual';
    return { run: true, request: { trigger, ...(roles?.length ? { scope: roles } : {}) } };
  }
  const detailType = e['detail-type'];
  const detail = (e.detail ?? {}) as Record<string, unknown>;
  if (e.source === 'aws.s3' && detailType === 'Object Created') {
    const d = detail as unknown as S3ObjectCreatedDetail;
    if (d.bucket?.name !== config.bundleBucket || d.object?.key !== config.bundleKey) {
      return { run: false, reason: `object s3://${d.bucket?.name}/${d.object?.key} is not the bundle` };
    }
    return { run: true, request: { trigger: `bundle ${d.object.etag ?? ''}`.trim() } };
  }
  if (e.source === 'aws.events' && detailType === 'Scheduled Event') {
    return { run: true, request: { trigger: 'schedule' } };
  }
  if (detailType === 'AWS API Call via CloudTrail' && e.source === 'aws.iam') {
    const d = detail as unknown as CloudTrailDetail;
    if (d.errorCode) return { run: false, reason: `${d.eventName} failed (${d.errorCode}); nothing changed` };
    const roleName = d.requestParameters?.roleName ?? '';
    const intermediateNames = [...(config.intermediateRoleArns ?? []), ...rotationAdded].map((arn) => parseRoleArn(arn)?.name);
    // The intermediate role's assume policy is the other half of every trust link: its drift
    // is repaired by a whole-cluster run; a managed role's drift by a run for that role alone.
    // So is its deletion or re-creation: a recreated node role is a new principal (trust policies
    // show the old one as AROA…), and its pods get AccessDenied until every trust names it again.
    const request: ReconcileRequest | undefined =
      (d.requestParameters?.policyName === INTERMEDIATE_POLICY_NAME || ROLE_LIFECYCLE.has(d.eventName)) && intermediateNames.includes(roleName)
        ? { trigger: `drift ${d.eventName} on the intermediate role ${roleName}` }
        : roleName.startsWith(`${config.cluster}.`)
          ? { trigger: `drift ${d.eventName}`, scope: [roleName] }
          : undefined;
    if (!request) return { run: false, reason: `${d.eventName} does not name a role of cluster ${config.cluster}` };
    // Reconcile's own writes come back as events: skip them (a second look would find nothing to
    // change anyway, but a large run would queue one invocation per write). Writes by the admission
    // and rotate functions are not skipped: a role admission only half-created gets finished here.
    const issuer = d.userIdentity?.sessionContext?.sessionIssuer?.arn;
    if (config.selfRoleArn && issuer === config.selfRoleArn) return { run: false, reason: `${d.eventName} was made by this function` };
    return { run: true, request };
  }
  return { run: false, reason: `unsupported event (source ${String(e.source)}, detail-type ${String(detailType)})` };
}
