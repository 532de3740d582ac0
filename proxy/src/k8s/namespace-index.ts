/** Namespaces by name, with only their annotations (what decideRole reads). Pure, like the pod index. */
import type { NamespaceFacts } from '../../../core/src/role-decision.ts';
import { Store, type StoreChange } from './store.ts';

export interface NamespaceObject {
  metadata?: { name?: string; annotations?: Record<string, string> | undefined; resourceVersion?: string };
}

/** A namespace's annotations; `deleted` carries the last ones known. */
export type NamespaceChange = StoreChange<Record<string, string>>;

const NO_ANNOTATIONS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function sameAnnotations(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export class NamespaceIndex extends Store<NamespaceObject, Record<string, string>> {
  constructor() {
    super({ key: (obj) => obj.metadata?.name || undefined, record: (obj) => ({ ...(obj.metadata?.annotations ?? {}) }), equal: sameAnnotations });
  }

  /** Unknown namespace: no annotations, so the strictest rules apply. */
  facts(name: string): NamespaceFacts {
    return { name, annotations: this.get(name) ?? NO_ANNOTATIONS };
  }
}
