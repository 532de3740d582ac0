/**
 * What the admission webhook answers for one pod (or namespace, see namespaceVerdict), before any IAM call. Pure.
 *
 * The rules are the proxy's (core/src/role-decision.ts decideRole), with one difference the
 * Lambda cannot avoid: it does not see the namespace, so it cannot read the namespace's
 * iam.amazonaws.com/allowed-roles and iam.amazonaws.com/permitted annotations. It decides as
 * if the namespace had none. A request that only those annotations could permit (an unmanaged
 * role's ARN or path) is then asked again as if the namespace permitted every role: if that
 * would allow it, the pod is admitted with an AdmissionReview warning, and the node proxy —
 * which does watch namespaces — enforces the annotations when the pod asks for credentials.
 * Such roles are never created: only managed roles from the bundle are. Everything else the
 * proxy would deny (another namespace's or cluster's managed role, a bad session TTL, …) is
 * denied here too, and a managed role must be in the bundle for the pod's namespace.
 *
 * Bare names: 'reader' is always the namespace's managed service role here. A kube2iam-style
 * bare name of an unmanaged role that a namespace annotation permits must be written as a full
 * ARN (or with its path) to pass admission.
 */
import { ALLOWED_ROLES_ANNOTATION, EXTERNAL_ID_ANNOTATION, PERMITTED_ANNOTATION, ROLE_ANNOTATION, SESSION_TTL_ANNOTATION } from '../../core/src/annotations.ts';
import { decideRole, namespacePermissions, type ClusterSettings, type RoleDecision } from '../../core/src/role-decision.ts';
import { parseRoleArn } from '../../core/src/naming.ts';
import { findDesiredRole, type DesiredRole, type DesiredState } from '../../iam-model/src/desired-state.ts';
import type { ReviewRequest } from './review.ts';

export type Verdict =
  | { kind: 'allow'; reason: string; warnings: string[] }
  | { kind: 'deny'; code: string; message: string }
  /** Allowed once this managed role exists; the handler creates it if needed. */
  | { kind: 'needs-role'; role: DesiredRole; reason: string; warnings: string[] };

export interface VerdictSettings {
  cluster: string;
  accountId: string;
  partition?: string;
  /** Accounts whose roles a namespace may permit; undefined: unknown here (the proxy enforces it). */
  allowedAccounts?: readonly string[];
}

const NAMESPACE_UNSEEN =
  'podiam admission cannot read namespace annotations; the node proxy checks iam.amazonaws.com/allowed-roles / iam.amazonaws.com/permitted for this role when the pod asks for credentials';

function isPodReview(req: ReviewRequest): boolean {
  const resource = req.resource?.resource;
  return req.kind.kind === 'Pod' && (resource === undefined || resource === 'pods') && !req.subResource;
}

/** The pod annotations that choose its credentials: a change to any of them is a change of role. */
const CREDENTIAL_ANNOTATIONS = [ROLE_ANNOTATION, EXTERNAL_ID_ANNOTATION, SESSION_TTL_ANNOTATION] as const;

/**
 * pods/status: the API server keeps metadata changes made through the status subresource, which
 * kubelets and status-writing controllers may patch without any right on the pod itself. It is
 * never a way to choose a role: any change of the credential annotations there is refused, since
 * the role rules below are only checked on the pod itself.
 */
function statusVerdict(req: ReviewRequest): Verdict {
  const before = req.oldObject?.metadata?.annotations ?? {};
  const after = req.object?.metadata?.annotations ?? {};
  const changed = CREDENTIAL_ANNOTATIONS.filter((key) => before[key] !== after[key]);
  if (changed.length === 0) return { kind: 'allow', reason: 'status update keeps the credential annotations', warnings: [] };
  return {
    kind: 'deny',
    code: 'PODIAM_ROLE_CHANGE_VIA_STATUS',
    message: `the pods/status subresource may not change ${changed.join(', ')}; annotate the pod itself (checked like a new pod) or recreate it.`,
  };
}

/** A Namespace under review: decided from its own annotations alone, never from the bundle. */
export function isNamespaceReview(req: ReviewRequest): boolean {
  const resource = req.resource?.resource;
  return req.kind.kind === 'Namespace' && (resource === undefined || resource === 'namespaces') && !req.subResource;
}

/** The namespace annotations that widen which roles its pods may have. */
const NAMESPACE_ANNOTATIONS = [ALLOWED_ROLES_ANNOTATION, PERMITTED_ANNOTATION] as const;

/**
 * A Namespace: its allowed-roles / permitted annotations must be ones the proxy accepts, checked
 * by the proxy's own parser (core namespacePermissions), so a hostile or unsupported regexp
 * (backreference, lookaround, …) is refused when it is written rather than when a pod first asks
 * for credentials. An UPDATE that leaves both annotations as they were is allowed (with a warning
 * if they are invalid): labels, finalizers and other edits of an old namespace are never blocked.
 */
export function namespaceVerdict(req: ReviewRequest): Verdict {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { kind: 'allow', reason: `operation ${req.operation}`, warnings: [] };
  const meta = req.object?.metadata ?? {};
  const annotations = meta.annotations ?? {};
  const name = meta.name || req.name || req.namespace || '(unnamed)';
  const perms = namespacePermissions({ name, annotations });
  if (!('error' in perms)) return { kind: 'allow', reason: `namespace ${name}: role annotations are valid`, warnings: [] };
  const before = req.oldObject?.metadata?.annotations ?? {};
  if (req.operation === 'UPDATE' && NAMESPACE_ANNOTATIONS.every((key) => before[key] === annotations[key])) {
    return { kind: 'allow', reason: 'namespace role annotations unchanged', warnings: [`${perms.error}; the node proxy refuses every role that needs it until it is fixed.`] };
  }
  return { kind: 'deny', code: 'PODIAM_NAMESPACE_ANNOTATION_INVALID', message: `${perms.error}; the node proxy would refuse it. Fix the annotation (see PODIAM_NAMESPACE_ANNOTATION_INVALID in docs/troubleshooting.md).` };
}

export function admissionVerdict(req: ReviewRequest, desired: DesiredState, settings: VerdictSettings): Verdict {
  if (isNamespaceReview(req)) return namespaceVerdict(req);
  if (req.kind.kind === 'Pod' && (req.resource?.resource ?? 'pods') === 'pods' && req.subResource === 'status' && req.operation === 'UPDATE') return statusVerdict(req);
  if (!isPodReview(req)) return { kind: 'allow', reason: `not a pod (${req.kind.kind})`, warnings: [] };
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { kind: 'allow', reason: `operation ${req.operation}`, warnings: [] };
  const meta = req.object?.metadata ?? {};
  const annotations = meta.annotations ?? {};
  const namespace = req.namespace || meta.namespace || 'default';
  const podName = meta.name || meta.generateName || '(unnamed)';
  if (req.operation === 'UPDATE') {
    // An update that keeps the role annotation must never be blocked: finalizers, labels and
    // graceful deletion of a pod whose file was since removed all go through UPDATE.
    const before = req.oldObject?.metadata?.annotations?.[ROLE_ANNOTATION];
    if (before === annotations[ROLE_ANNOTATION]) return { kind: 'allow', reason: 'role annotation unchanged', warnings: [] };
  }

  const cluster: ClusterSettings = { cluster: settings.cluster, accountId: settings.accountId, partition: settings.partition ?? 'aws', allowedAccounts: settings.allowedAccounts ?? [] };
  const pod = { namespace, name: podName, annotations };
  const strict = decideRole(pod, { name: namespace, annotations: {} }, cluster);
  return fromDecision(strict, () => {
    const requested = annotations[ROLE_ANNOTATION]?.trim() ?? '';
    const account = parseRoleArn(requested)?.accountId;
    const allowedAccounts = settings.allowedAccounts ?? (account ? [account] : []);
    return decideRole(pod, { name: namespace, annotations: { [ALLOWED_ROLES_ANNOTATION]: '["*"]' } }, { ...cluster, allowedAccounts });
  }, desired, namespace);
}

function fromDecision(strict: RoleDecision, permissive: () => RoleDecision, desired: DesiredState, namespace: string): Verdict {
  if (strict.kind === 'none') return { kind: 'allow', reason: strict.reason, warnings: [] };
  if (strict.kind === 'allow') {
    const service = strict.role.service;
    if (service === undefined) return { kind: 'allow', reason: strict.reason, warnings: [] };
    const role = findDesiredRole(desired, namespace, service);
    if (!role) {
      return {
        kind: 'deny',
        code: 'PODIAM_ROLE_NOT_IN_BUNDLE',
        message: `role '${service}' of namespace ${namespace} is not defined: add policies/${namespace}/${service}.json, merge it and run \`podiam publish\`, then create the pod again.`,
      };
    }
    return { kind: 'needs-role', role, reason: strict.reason, warnings: [] };
  }
  if (strict.code === 'PODIAM_ROLE_NOT_PERMITTED' || strict.code === 'PODIAM_ROLE_ANNOTATION_INVALID') {
    const wide = permissive();
    if (wide.kind === 'allow' && !wide.role.path.startsWith('/podiam/')) {
      return { kind: 'allow', reason: `${wide.role.arn} needs a namespace annotation`, warnings: [`${wide.role.arn}: ${NAMESPACE_UNSEEN}.`] };
    }
    if (wide.kind === 'deny' && wide.code !== strict.code) return { kind: 'deny', code: String(wide.code), message: wide.reason };
  }
  return { kind: 'deny', code: String(strict.code), message: strict.reason };
}
