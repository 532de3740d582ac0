/**
 * Namespaces by name, with only their iam.amazonaws.com/* and podiam.io/* annotations (what
 * decideRole and the revocation cut-off read). Pure, like the pod index. The rest is dropped: a
 * cluster's 10,000 namespaces often carry kubectl's last-applied-configuration (kilobytes each),
 * and a change to those is no change to any decision.
 */
import type { NamespaceFacts } from '../../../core/src/role-decision.ts';
import { Store, type StoreChange } from './store.ts';

export interface NamespaceObject {
  metadata?: { name?: string; annotations?: Record<string, string> | undefined; resourceVersion?: string };
}

/** A namespace's annotations; `deleted` carries the last ones known. */
export type NamespaceChange = StoreChange<Record<string, string>>;

const NO_ANNOTATIONS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function podiamAnnotations(all: Record<string, string> | undefined): Record<string, string> {
  if (!all) return NO_ANNOTATIONS;
  let out: Record<string, string> | undefined;
  for (const key of Object.keys(all)) {
    if (key.startsWith('iam.amazonaws.com/') || key.startsWith('podiam.io/')) (out ??= {})[key] = all[key]!;
  }
  return out ?? NO_ANNOTATIONS;
}

function sameAnnotations(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export class NamespaceIndex extends Store<NamespaceObject, Record<string, string>> {
  constructor() {
    super({ key: (obj) => obj.metadata?.name || undefined, record: (obj) => podiamAnnotations(obj.metadata?.annotations), equal: sameAnnotations });
  }

  /** Unknown namespace: no annotations, so the strictest rules apply. */
  facts(name: string): NamespaceFacts {
    return { name, annotations: this.get(name) ?? NO_ANNOTATIONS };
  }
}
