/**
 * GET /latest/meta-data/iam/security-credentials/<name> → the pod's own role's credentials, in
 * the exact JSON IMDS returns. Any other name is refused: a pod cannot pick a role by asking.
 */
import { ProxyError } from '../errors.ts';
import type { CredentialCache } from '../sts/credential-cache.ts';
import type { IssuedCredentials } from '../sts/types.ts';
import type { CallerRoles } from './caller.ts';
import { imdsTime, json, type Reply } from './reply.ts';

/** The answer is the same for every request until the credentials change: build it once. */
const bodies = new WeakMap<IssuedCredentials, Reply>();

/**
 * The answer when it is known at once: a fresh pod index, an allowed role of that name, and fresh
 * credentials cached. Undefined otherwise, and credentialsReply() answers or refuses.
 */
export function cachedCredentialsReply(ip: string, requestedName: string, roles: CallerRoles, cache: CredentialCache): Reply | undefined {
  const found = roles.resolveNow(ip);
  if (!found || requestedName !== found.decision.role.name) return undefined;
  const c = cache.cached(found.pod.uid, roles.assumeRequest(found.pod, found.decision));
  return c ? replyFor(c) : undefined;
}

export async function credentialsReply(ip: string, requestedName: string, roles: CallerRoles, cache: CredentialCache, waitMs: number): Promise<Reply> {
  const { pod, decision } = await roles.resolve(ip);
  if (requestedName !== decision.role.name) {
    throw new ProxyError('PODIAM_ROLE_NAME_MISMATCH', `pod ${pod.namespace}/${pod.name} may have role ${decision.role.name}, not ${requestedName}`);
  }
  return replyFor(await cache.get(pod.uid, roles.assumeRequest(pod, decision), waitMs));
}

function replyFor(c: IssuedCredentials): Reply {
  const cached = bodies.get(c);
  if (cached) return cached;
  const reply = json({
    Code: 'Success',
    LastUpdated: imdsTime(c.issuedAt),
    Type: 'AWS-HMAC',
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: imdsTime(c.expiration),
  });
  bodies.set(c, reply);
  return reply;
}
