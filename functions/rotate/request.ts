/**
 * What a rotate event asks for. Pure. Events: the daily ScheduledEvent (prune), or an
 * EventBridge custom event `source: podiam`, `detail-type: podiam rotate` with detail
 *   {cluster, action: 'revoke-sessions', namespace?, service?}   one service, a namespace, or the whole cluster
 *   {cluster, action: 'begin-intermediate-rotation', newRoleArn}  trust both old and new
 *   {cluster, action: 'finish-intermediate-rotation', oldRoleArn} after the proxies switched: drop the old
 *   {cluster, action: 'prune-intermediates'}                      drop trust in roles that no longer exist
 * (see events/rotate-*.json).
 */
import type { EventBridgeEvent, ScheduledEvent } from 'aws-lambda';
import { isDnsLabel, parseRoleArn } from '../../core/src/naming.ts';
import { IntermediateRoleNotAllowedError, RotateRequestError } from '../lib/errors.ts';
import { decideIntermediateArn, type IntermediateArnScope } from '../../iam-model/src/intermediate-arns.ts';

export type RotateRequest =
  | { action: 'revoke-sessions'; namespace?: string; service?: string }
  | { action: 'begin-intermediate-rotation'; newRoleArn: string }
  | { action: 'finish-intermediate-rotation'; oldRoleArn: string }
  | { action: 'prune-intermediates' };

export interface RotateDetail {
  cluster: string;
  action: RotateRequest['action'];
  namespace?: string;
  service?: string;
  newRoleArn?: string;
  oldRoleArn?: string;
}

export type RotateEvent = EventBridgeEvent<'podiam rotate', RotateDetail> | ScheduledEvent;

/**
 * `scope`: which role ARNs may become intermediate roles (iam-model/src/intermediate-arns.ts).
 * A role of another account is refused here, before anything is read or written.
 */
export function rotateRequestFor(event: unknown, cluster: string, scope: IntermediateArnScope): RotateRequest {
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event') return { action: 'prune-intermediates' };
  if (e.source !== 'podiam' || e['detail-type'] !== 'podiam rotate') {
    throw new RotateRequestError(`unsupported event (source ${String(e.source)}, detail-type ${String(e['detail-type'])})`);
  }
  const d = (e.detail ?? {}) as Partial<RotateDetail>;
  // The rule filters on the cluster too; checking again keeps a mis-routed event from acting on the wrong cluster.
  if (d.cluster !== cluster) throw new RotateRequestError(`detail.cluster is ${JSON.stringify(d.cluster)}, this function serves cluster '${cluster}'`);
  switch (d.action) {
    case 'revoke-sessions': {
      for (const k of ['namespace', 'service'] as const) {
        if (d[k] !== undefined && (typeof d[k] !== 'string' || !isDnsLabel(d[k]))) throw new RotateRequestError(`detail.${k} is not a DNS-1123 label`);
      }
      if (d.service !== undefined && d.namespace === undefined) throw new RotateRequestError('detail.service needs detail.namespace');
      return { action: 'revoke-sessions', ...(d.namespace ? { namespace: d.namespace } : {}), ...(d.service ? { service: d.service } : {}) };
    }
    case 'begin-intermediate-rotation':
      return { action: 'begin-intermediate-rotation', newRoleArn: allowedArn(d, 'newRoleArn', scope) };
    case 'finish-intermediate-rotation':
      return { action: 'finish-intermediate-rotation', oldRoleArn: allowedArn(d, 'oldRoleArn', scope) };
    case 'prune-intermediates':
      return { action: 'prune-intermediates' };
    default:
      throw new RotateRequestError(`detail.action ${JSON.stringify(d.action)} is unknown`);
  }
}

function allowedArn(d: Partial<RotateDetail>, field: 'newRoleArn' | 'oldRoleArn', scope: IntermediateArnScope): string {
  const arn = d[field];
  if (typeof arn !== 'string' || !parseRoleArn(arn)) throw new RotateRequestError(`detail.${field} is not a role ARN`);
  const decision = decideIntermediateArn(arn, scope);
  if (!decision.allowed) throw new IntermediateRoleNotAllowedError(field, decision.reason);
  return arn;
}
