/** Namespaces by name, with only their annotations (what decideRole reads). Pure, like the pod index. */
import type { NamespaceFacts } from '../../../core/src/role-decision.ts';

export interface NamespaceObject {
  metadata?: { name?: string; annotations?: Record<string, string> | undefined; resourceVersion?: string };
}

const NO_ANNOTATIONS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export class NamespaceIndex {
  private readonly byName = new Map<string, Record<string, string>>();
  private readonly listeners = new Set<(name: string) => void>();
  private syncedFlag = false;

  /** Called with a namespace's name when its annotations may have changed. */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  get size(): number {
    return this.byName.size;
  }

  markUnsynced(): void {
    this.syncedFlag = false;
  }

  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: NamespaceObject): void {
    const name = obj.metadata?.name;
    if (!name) return;
    const before = this.byName.get(name);
    if (type === 'DELETED') this.byName.delete(name);
    else this.byName.set(name, { ...(obj.metadata?.annotations ?? {}) });
    if (before === undefined || JSON.stringify(before) !== JSON.stringify(this.byName.get(name))) {
      for (const l of this.listeners) l(name);
    }
  }

  replaceAll(objects: Iterable<NamespaceObject>): void {
    this.beginRelist();
    this.addListed(objects);
    this.endRelist();
  }

  private relistSeen: Set<string> | undefined;

  beginRelist(): void {
    this.syncedFlag = false;
    this.relistSeen = new Set();
  }

  addListed(objects: Iterable<NamespaceObject>): void {
    for (const obj of objects) {
      const name = obj.metadata?.name;
      if (!name) continue;
      this.relistSeen?.add(name);
      this.apply('ADDED', obj);
    }
  }

  endRelist(): void {
    const seen = this.relistSeen;
    this.relistSeen = undefined;
    if (seen) for (const name of [...this.byName.keys()]) if (!seen.has(name)) this.byName.delete(name);
    this.syncedFlag = true;
  }

  /** Unknown namespace: no annotations, so the strictest rules apply. */
  facts(name: string): NamespaceFacts {
    return { name, annotations: this.byName.get(name) ?? NO_ANNOTATIONS };
  }
}
