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

export async function credentialsReply(ip: string, requestedName: string, roles: CallerRoles, cache: CredentialCache, waitMs: number): Promise<Reply> {
  const { pod, decision } = await roles.resolve(ip);
  if (requestedName !== decision.role.name) {
    throw new ProxyError('PODIAM_ROLE_NAME_MISMATCH', `pod ${pod.namespace}/${pod.name} may have role ${decision.role.name}, not ${requestedName}`);
  }
  const c = await cache.get(pod.uid, roles.assumeRequest(pod, decision), waitMs);
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
