/**
 * What the mutating webhook does to one pod: token-bound identity (issue 15). Pure: a review in,
 * a decision with its reason out; the handler turns it into an AdmissionReview answer.
 *
 * The pod gets a projected service-account token of podiam's audience (the kubelet rotates it) and,
 * in every container and init container, the two variables of the AWS SDKs' container credentials
 * provider (the EKS Pod Identity contract): AWS_CONTAINER_CREDENTIALS_FULL_URI, the proxy's token
 * door at 169.254.170.23, and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, the token's path. The SDKs
 * send the file's content as the Authorization header; the proxy verifies it and the source IP.
 *
 * Who is sent here is the chart's decision, not this module's: the MutatingWebhookConfiguration
 * sends pods annotated podiam.io/token-identity: "true", and every pod of a namespace labelled
 * podiam.io/token-identity: enabled unless the pod says "false". So this mutates any pod it is
 * sent, except one that opts out, one on the host network, and one already mutated.
 */
import { TOKEN_DOOR_URL, TOKEN_IDENTITY_ANNOTATION } from '../../core/src/annotations.ts';
import type { ContainerSpec, ReviewRequest } from './review.ts';

export const TOKEN_VOLUME_NAME = 'podiam-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/podiam.io/serviceaccount';
export const TOKEN_FILE_NAME = 'token';
export const TOKEN_FILE = `${TOKEN_MOUNT_PATH}/${TOKEN_FILE_NAME}`;

export const FULL_URI_ENV = 'AWS_CONTAINER_CREDENTIALS_FULL_URI';
export const TOKEN_FILE_ENV = 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE';
/**
 * A container that sets any of these has its own container-credentials setup (an ECS-style sidecar,
 * EKS Pod Identity itself): adding ours would replace it, or leave a FULL_URI beside its RELATIVE_URI.
 * Only `env` is seen: keys that come through `envFrom` (a ConfigMap or Secret) are not in the review,
 * and the env entries added here take precedence over them.
 */
export const OWN_CREDENTIALS_ENV = [FULL_URI_ENV, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', TOKEN_FILE_ENV] as const;

export interface MutationSettings {
  /** The token's audience; must be the proxy's PODIAM_TOKEN_AUDIENCE. */
  audience: string;
  /** Lifetime the kubelet asks for (the API server's minimum is 600 s); it refreshes at 80 %. */
  expirationSeconds: number;
}

export type JsonPatchOp = { op: 'add'; path: string; value: unknown };

export type Mutation =
  | { kind: 'mutate'; patch: JsonPatchOp[]; reason: string; warnings: string[] }
  | { kind: 'skip'; reason: string; warnings: string[] };

/** RFC 6901: '~' is '~0' and '/' is '~1' inside a JSON Pointer segment. */
export function pointer(...segments: Array<string | number>): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The review is the API server's, but a field of the wrong shape must not throw: read it as empty. */
const listOf = <T>(value: T[] | null | undefined): T[] => (Array.isArray(value) ? value : []);

const skip = (reason: string, warnings: string[] = []): Mutation => ({ kind: 'skip', reason, warnings });

/** Appends to an array that may be absent: one add of the whole array, or one add per item at '-'. */
function appendAll(patch: JsonPatchOp[], base: Array<string | number>, field: string, present: unknown, items: unknown[]): void {
  if (!Array.isArray(present)) {
    // Absent or null: 'add' creates the member (and replaces a null).
    patch.push({ op: 'add', path: pointer(...base, field), value: items });
    return;
  }
  for (const item of items) patch.push({ op: 'add', path: pointer(...base, field, '-'), value: item });
}

export function podMutation(review: ReviewRequest, settings: MutationSettings): Mutation {
  if (review.kind.kind !== 'Pod' || (review.resource && review.resource.resource !== 'pods') || review.subResource) return skip(`not a pod: ${review.kind.kind}${review.subResource ? `/${review.subResource}` : ''}`);
  // Only a creation: the API server refuses changes to a running pod's containers and volumes.
  if (review.operation !== 'CREATE') return skip(`operation ${review.operation}: only pod creation is mutated`);
  const pod = review.object;
  const asked = pod?.metadata?.annotations?.[TOKEN_IDENTITY_ANNOTATION];
  if (asked === 'false') return skip(`the pod opts out (${TOKEN_IDENTITY_ANNOTATION}: "false")`);
  const warnings: string[] = [];
  if (asked !== undefined && asked !== 'true') warnings.push(`podiam: ${TOKEN_IDENTITY_ANNOTATION} is "${asked}", neither "true" nor "false"; token identity follows the namespace's opt-in`);
  const spec = pod?.spec;
  if (!spec) return skip('the pod has no spec');
  if (spec.hostNetwork === true) {
    // Its requests come from the node's IP, which no pod owns: the proxy's token door refuses
    // them anyway, so the env would only turn a working metadata path into a failing one.
    return skip('hostNetwork pod', [...warnings, 'podiam: token identity is not given to hostNetwork pods (their source address is the node\'s, which the token endpoint refuses); the pod keeps the metadata path']);
  }
  if (listOf(spec.volumes).some((v) => v?.name === TOKEN_VOLUME_NAME)) return skip(`the pod already has the ${TOKEN_VOLUME_NAME} volume`, warnings);
  // The API server refuses a serviceAccountToken projection in a pod without a service account, and
  // failurePolicy Ignore does not cover a patch that makes the pod invalid: the pod itself would be
  // refused. The ServiceAccount admission plugin (on by default) sets it before webhooks are called.
  if (typeof spec.serviceAccountName !== 'string' || spec.serviceAccountName === '') {
    return skip('the pod has no serviceAccountName', [...warnings, 'podiam: token identity needs the pod\'s serviceAccountName (set by the API server\'s ServiceAccount admission plugin, which is off here); the pod keeps the metadata path']);
  }

  const patch: JsonPatchOp[] = [];
  const env = [
    { name: FULL_URI_ENV, value: TOKEN_DOOR_URL },
    { name: TOKEN_FILE_ENV, value: TOKEN_FILE },
  ];
  const mount = { name: TOKEN_VOLUME_NAME, mountPath: TOKEN_MOUNT_PATH, readOnly: true };
  const changed: string[] = [];
  // Ephemeral containers are added later through their own subresource, never at creation.
  for (const field of ['initContainers', 'containers'] as const) {
    const list: ContainerSpec[] | null | undefined = spec[field];
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      const label = `${field === 'initContainers' ? 'init container' : 'container'} ${c?.name ?? i}`;
      const own = listOf(c?.env).map((e) => e?.name).filter((n): n is string => (OWN_CREDENTIALS_ENV as readonly string[]).includes(n ?? ''));
      if (own.length) {
        // Never clobber credentials the owner set up: the SDK would use ours instead of theirs.
        warnings.push(`podiam: ${label} sets ${own.join(', ')}; left as it is, without podiam's token identity`);
        return;
      }
      if (listOf(c?.volumeMounts).some((m) => m?.mountPath === TOKEN_MOUNT_PATH)) {
        warnings.push(`podiam: ${label} already mounts something at ${TOKEN_MOUNT_PATH}; left as it is, without podiam's token identity`);
        return;
      }
      appendAll(patch, ['spec', field, i], 'env', c?.env, env);
      appendAll(patch, ['spec', field, i], 'volumeMounts', c?.volumeMounts, [mount]);
      changed.push(label);
    });
  }
  if (!changed.length) return skip('no container to give token identity to', warnings);
  const volume = {
    name: TOKEN_VOLUME_NAME,
    projected: {
      sources: [{ serviceAccountToken: { audience: settings.audience, expirationSeconds: settings.expirationSeconds, path: TOKEN_FILE_NAME } }],
    },
  };
  // The volume first, so the patch reads in the order of the pod spec it builds.
  const volumeOps: JsonPatchOp[] = [];
  appendAll(volumeOps, ['spec'], 'volumes', spec.volumes, [volume]);
  return { kind: 'mutate', patch: [...volumeOps, ...patch], reason: `token identity for ${changed.join(', ')}`, warnings };
}
