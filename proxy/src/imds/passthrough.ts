/**
 * Allowlisted paths go to the node's IMDS; everything else is refused here. The path has
 * already passed plainPath() (no '..', escapes, '//', ';'), so what is checked is what is sent.
 */
import { ProxyError } from '../errors.ts';
import { isPassthroughAllowed } from './paths.ts';
import type { Reply } from './reply.ts';
import type { ImdsUpstream } from './upstream.ts';

export async function passthroughReply(path: string, allowlist: readonly string[], upstream: ImdsUpstream): Promise<Reply> {
  if (!isPassthroughAllowed(path, allowlist)) throw new ProxyError('PODIAM_PATH_NOT_ALLOWED', `${path} is not passed through`);
  try {
    const a = await upstream.get(path);
    // Only the status, type and body come back: no upstream header reaches the pod.
    return { status: a.status, contentType: a.contentType ?? 'text/plain', body: a.body };
  } catch (err) {
    // ImdsUpstream fails with PODIAM_UPSTREAM_TIMEOUT or _UNAVAILABLE; anything else is unexpected.
    if (err instanceof ProxyError) throw err;
    throw new ProxyError('PODIAM_UPSTREAM_UNAVAILABLE', undefined, { cause: err });
  }
}
