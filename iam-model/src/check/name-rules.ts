/**
 * The role name contract (core/src/naming.ts): DNS-1123 namespace and service names, the 64-character
 * rule, and no two files mapping to one role name. The name <cluster>.<ns>.<svc> is one-to-one
 * ('a' + 'b-c' and 'a-b' + 'c' were one name in the earlier <cluster>-<ns>-<svc> shape), so the
 * collision rule is a backstop for shortened names, whose 80-bit hash could in principle agree.
 */
import { MAX_ROLE_NAME, isDnsLabel, managedRoleName } from '../../../core/src/naming.ts';
import type { PathSegment } from './finding.ts';
import type { FindingCode } from './finding.ts';

export interface NamedFile {
  file: string;
  namespace: string;
  service: string;
  report(code: FindingCode, path: readonly PathSegment[], message: string): void;
}

/** Per file; returns the role name when the names are valid. */
export function nameRules(f: NamedFile, cluster: string): string | undefined {
  let ok = true;
  for (const [part, value] of [['namespace', f.namespace], ['service', f.service]] as const) {
    if (!isDnsLabel(value)) {
      ok = false;
      const where = part === 'namespace' ? `the folder '${value}'` : `the file name '${value}.json'`;
      f.report('PODIAM_CHECK_NAME_INVALID', [], `${where} is not a valid ${part} name: use 1-63 lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label).`);
    }
  }
  if (!ok) return undefined;
  const full = `${cluster}.${f.namespace}.${f.service}`;
  const name = managedRoleName({ cluster, namespace: f.namespace, service: f.service });
  if (full.length > MAX_ROLE_NAME) {
    f.report('PODIAM_CHECK_ROLE_NAME_HASHED', [], `the role name '${full}' has ${full.length} characters, over IAM's ${MAX_ROLE_NAME}; it becomes '${name}', which pods can request only by service name, not by ARN. Shorten the namespace or service name to keep it readable.`);
  }
  return name;
}

/** Across files: every role name must come from exactly one file. */
export function collisionRules(named: Array<NamedFile & { roleName: string }>): void {
  const byName = new Map<string, NamedFile[]>();
  for (const f of named) byName.set(f.roleName, [...(byName.get(f.roleName) ?? []), f]);
  for (const [roleName, files] of byName) {
    if (files.length < 2) continue;
    for (const f of files) {
      const others = files.filter((o) => o !== f).map((o) => o.file).join(', ');
      f.report('PODIAM_CHECK_ROLE_NAME_COLLISION', [], `this file and ${others} both map to the IAM role '${roleName}'; rename the service or namespace of one of them.`);
    }
  }
}
