/**
 * Reads a namespace's podiam.io/sessions-revoked-at annotation. Pure: annotations and the time
 * in, a cut-off (or why there is none) out.
 */
import { SESSIONS_REVOKED_AT_ANNOTATION } from '../../../core/src/annotations.ts';

/** A time further ahead than this is a mistake; honouring it would refetch on every change. */
const MAX_FUTURE_MS = 60_000;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export type RevocationCutoff = { kind: 'none' } | { kind: 'cutoff'; atMs: number } | { kind: 'invalid'; reason: string };

export function revocationCutoff(annotations: Record<string, string> | undefined, nowMs: number): RevocationCutoff {
  const raw = annotations?.[SESSIONS_REVOKED_AT_ANNOTATION]?.trim();
  if (!raw) return { kind: 'none' };
  const atMs = RFC3339.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(atMs)) return { kind: 'invalid', reason: `${SESSIONS_REVOKED_AT_ANNOTATION} '${raw}' is not an RFC 3339 time such as 2026-11-27T12:00:00Z` };
  if (atMs > nowMs + MAX_FUTURE_MS) return { kind: 'invalid', reason: `${SESSIONS_REVOKED_AT_ANNOTATION} '${raw}' lies in the future; set it to the time of the revocation` };
  return { kind: 'cutoff', atMs };
}
