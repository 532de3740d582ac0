/**
 * Duplicate member names: JSON.parse keeps the last silently, so `"Action": "s3:GetObject",
 * "Action": "s3:PutObject"` would grant only PutObject while the reviewer reads both.
 */
import type { Node } from 'jsonc-parser';
import type { PathSegment } from './finding.ts';

export interface DuplicateKey {
  /** Path of the repeated member (second occurrence). */
  path: PathSegment[];
  offset: number;
  key: string;
}

export function findDuplicateKeys(root: Node | undefined): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const walk = (node: Node, path: PathSegment[]): void => {
    if (node.type === 'object') {
      const seen = new Set<string>();
      for (const prop of node.children ?? []) {
        const [keyNode, valueNode] = prop.children ?? [];
        if (!keyNode) continue;
        const key = String(keyNode.value);
        if (seen.has(key)) out.push({ path: [...path, key], offset: keyNode.offset, key });
        seen.add(key);
        if (valueNode) walk(valueNode, [...path, key]);
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((child, i) => walk(child, [...path, i]));
    }
  };
  if (root) walk(root, []);
  return out;
}
