/** Canonical JSON: object keys sorted, no whitespace, arrays in order. Equal content, equal bytes, equal hash. */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The bundle hash: sha256 of the canonical JSON of { acknowledgeDeletions, guardrails, services }.
 * An absent acknowledgement is left out (canonicalJson drops undefined), so bundles without one
 * keep the hash they always had; one that carries it cannot have it added or changed unseen.
 */
export function bundleHash(content: { guardrails: unknown; services: unknown; acknowledgeDeletions?: unknown }): string {
  return sha256Hex(canonicalJson({ acknowledgeDeletions: content.acknowledgeDeletions, guardrails: content.guardrails, services: content.services }));
}
