/** The published bundle from checked policies: sorted, hashed, nothing time-dependent inside. */
import type { Bundle, Guardrails, ServicePolicy } from './bundle.ts';
import { bundleHash, canonicalJson } from './canonical-json.ts';

function byNamespaceThenService(a: ServicePolicy, b: ServicePolicy): number {
  const ka = `${a.namespace}\u0000${a.service}`;
  const kb = `${b.namespace}\u0000${b.service}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function buildBundle(guardrails: Guardrails, services: readonly ServicePolicy[], options: { acknowledgeDeletions?: number | undefined } = {}): Bundle {
  // Round-trip through canonical JSON so the bundle holds plain data with sorted keys.
  const sorted = JSON.parse(canonicalJson([...services].sort(byNamespaceThenService))) as ServicePolicy[];
  const rails = JSON.parse(canonicalJson(guardrails)) as Guardrails;
  const ack = options.acknowledgeDeletions;
  return {
    schemaVersion: 1,
    hash: bundleHash({ guardrails: rails, services: sorted, acknowledgeDeletions: ack }),
    guardrails: rails,
    services: sorted,
    ...(ack === undefined ? {} : { acknowledgeDeletions: ack }),
  };
}

/** The bytes written to disk and uploaded: canonical JSON plus a final newline. */
export function serializeBundle(bundle: Bundle): string {
  return `${canonicalJson(bundle)}\n`;
}
