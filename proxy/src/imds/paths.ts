/**
 * Request-path hygiene. IMDS paths are plain: letters, digits and a few punctuation marks.
 * Anything else — '..' in any spelling, percent-escapes (so '%2e%2e' and '%2f' never get decoded
 * into something else downstream), '//', ';' parameters, queries, backslashes, absolute-form
 * URLs — is refused before routing, so no trick can reach a blocked upstream path.
 */
import { ProxyError } from '../errors.ts';

// Role names may hold + = , . @ _ - (IAM's set); nothing else is legal in any IMDS path we serve.
const PLAIN_PATH = /^\/[A-Za-z0-9_+=,.@/-]*$/;
/** A '.' or '..' segment anywhere. */
const DOT_SEGMENT = /\/\.{1,2}(?:\/|$)/;

/** Returns the path unchanged when it is plain; throws PODIAM_PATH_INVALID otherwise. */
export function plainPath(rawUrl: string | undefined): string {
  const url = rawUrl ?? '';
  if (url.length > 1024 || !PLAIN_PATH.test(url) || url.includes('//') || DOT_SEGMENT.test(url)) throw new ProxyError('PODIAM_PATH_INVALID');
  return url;
}

/** An entry ending in '/' allows itself and everything below; any other entry allows exactly itself (and itself + '/'). */
export function isPassthroughAllowed(path: string, allowlist: readonly string[]): boolean {
  return allowlist.some((entry) => (entry.endsWith('/') ? path === entry.slice(0, -1) || path.startsWith(entry) : path === entry || path === `${entry}/`));
}
