/**
 * The token door: GET /v1/credentials on 169.254.170.23 (the container-credentials address the AWS
 * SDKs accept over plain HTTP), as EKS Pod Identity answers it. The pod is named by the projected
 * service-account token in the Authorization header, and the source IP must be that pod's: both
 * must hold. Then the same decision and the same credential cache as the metadata path.
 *
 *   no token → 401 PODIAM_TOKEN_MISSING; bad signature, other issuer, malformed → 401
 *   PODIAM_TOKEN_INVALID; expired → 401 PODIAM_TOKEN_EXPIRED; other audience → 401
 *   PODIAM_TOKEN_AUDIENCE_MISMATCH; not bound to a pod → 403 PODIAM_TOKEN_NOT_POD_BOUND; its pod
 *   not a live pod of this node → 403 PODIAM_TOKEN_POD_NOT_ON_NODE; sent from another address →
 *   403 PODIAM_TOKEN_SOURCE_MISMATCH. Nothing here falls back to the source-IP path.
 */
import { ProxyError } from '../errors.ts';
import type { CallerRoles } from '../imds/caller.ts';
import { imdsTime, json, type Reply } from '../imds/reply.ts';
import type { PodIndex, PodLookup, PodRecord } from '../k8s/pod-index.ts';
import type { CredentialCache } from '../sts/credential-cache.ts';
import type { IssuedCredentials } from '../sts/types.ts';
import type { BoundToken } from './jwt.ts';
import type { TokenVerifier } from './verifier.ts';

export interface TokenDoorDeps {
  verifier: TokenVerifier;
  /** The pod at an address (fresh, or known within the stale window), as the metadata path sees it. */
  lookup: PodLookup;
  /** The index itself, to tell "not on this node" from "sent from elsewhere". */
  pods: Pick<PodIndex, 'get'>;
  roles: CallerRoles;
  cache: CredentialCache;
  accountId: string;
  indexWaitMs: number;
  credentialsWaitMs: number;
}

/** The header's token: the SDKs send the token file's content as it is; a trailing newline is not part of it. */
export function headerToken(header: string | string[] | undefined): string {
  const raw = Array.isArray(header) ? header[0] : header;
  return raw?.trim().replace(/^Bearer\s+/i, '') ?? '';
}

const bodies = new WeakMap<IssuedCredentials, Reply>();

function replyFor(c: IssuedCredentials, accountId: string): Reply {
  let reply = bodies.get(c);
  if (!reply) {
    reply = json({ AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.sessionToken, AccountId: accountId, Expiration: imdsTime(c.expiration) });
    bodies.set(c, reply);
  }
  return reply;
}

function sameBinding(pod: PodRecord, token: BoundToken): boolean {
  return pod.uid === token.podUid && pod.namespace === token.namespace && pod.name === token.podName;
}

/** The token's pod, if it is the one at ip; otherwise the refusal that says why not. */
async function boundPod(token: BoundToken, ip: string, deps: TokenDoorDeps): Promise<PodRecord> {
  const found = await deps.lookup.find(ip, deps.indexWaitMs);
  if (found.kind === 'not-synced') throw new ProxyError('PODIAM_POD_INDEX_NOT_SYNCED');
  // SECURITY: both must hold: the token names the pod, and the request comes from that pod's
  // address. A stolen token is useless from anywhere else; a forged address is useless without
  // the pod's token.
  if (found.kind === 'pod' && sameBinding(found.pod, token)) return found.pod;
  const owner = deps.pods.get(token.podUid);
  // SECURITY: a token outlives its pod by up to its expiry; once the pod is gone (or replaced by
  // one with another UID at the same name or address), its token names no live pod of this node.
  if (!owner || !sameBinding(owner, token)) {
    throw new ProxyError('PODIAM_TOKEN_POD_NOT_ON_NODE', `pod ${token.namespace}/${token.podName} (uid ${token.podUid}) is not a live pod of this node`);
  }
  if (found.kind === 'conflict') throw new ProxyError('PODIAM_POD_IP_CONFLICT', `IP ${ip} is claimed by ${found.pods.map((p) => `${p.namespace}/${p.name}`).join(' and ')}`);
  throw new ProxyError('PODIAM_TOKEN_SOURCE_MISMATCH', `the token of ${token.namespace}/${token.podName} was sent from ${ip}, not from that pod's address`);
}

/** GET /v1/credentials: the pod's credentials, or a coded refusal (thrown). */
export async function tokenCredentialsReply(authorization: string | string[] | undefined, ip: string, deps: TokenDoorDeps): Promise<Reply> {
  const raw = headerToken(authorization);
  if (raw === '') throw new ProxyError('PODIAM_TOKEN_MISSING');
  const check = await deps.verifier.verify(raw);
  if (check.kind === 'refused') throw new ProxyError(check.code, check.reason);
  const pod = await boundPod(check.token, ip, deps);
  const decision = deps.roles.allowed(pod);
  return replyFor(await deps.cache.get(pod.uid, deps.roles.assumeRequest(pod, decision), deps.credentialsWaitMs), deps.accountId);
}

/**
 * The answer when it is known at once: a token verified before, its pod at this address in the
 * fresh index, allowed, and credentials cached. Undefined sends the caller to tokenCredentialsReply.
 */
export function cachedTokenCredentialsReply(authorization: string | string[] | undefined, ip: string, deps: TokenDoorDeps): Reply | undefined {
  const raw = headerToken(authorization);
  if (raw === '') return undefined;
  const token = deps.verifier.verifiedNow(raw);
  if (!token) return undefined;
  const pod = deps.lookup.findNow?.(ip);
  if (!pod || !sameBinding(pod, token)) return undefined;
  const decision = deps.roles.decide(pod);
  if (decision.kind !== 'allow') return undefined;
  const c = deps.cache.cached(pod.uid, deps.roles.assumeRequest(pod, decision));
  return c ? replyFor(c, deps.accountId) : undefined;
}
