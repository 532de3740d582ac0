/** One policies/<namespace>/<service>.json: text → ServicePolicy, or the findings that stop it. */
import type { ExpectCase, PolicyDocument, ServicePolicy } from '../bundle/bundle.ts';
import type { PathSegment } from './finding.ts';
import { validateSchema, type SchemaProblem } from './schema.ts';
import { SourceFile, type SyntaxProblem } from './source.ts';

export type LoadedFile =
  | { kind: 'syntax'; source: SourceFile; problems: SyntaxProblem[] }
  | { kind: 'schema'; source: SourceFile; problems: SchemaProblem[] }
  | { kind: 'ok'; source: SourceFile; service: ServicePolicy; policyPath: PathSegment[] };

interface Wrapper {
  description?: string;
  owners?: string[];
  policy: PolicyDocument;
  managedPolicyArns?: string[];
  maxSessionDuration?: number;
  expect?: { allow?: ExpectCase[]; deny?: ExpectCase[] };
}

export function loadPolicyFile(text: string, where: { namespace: string; service: string; file: string }): LoadedFile {
  const source = new SourceFile(text);
  if (source.syntaxErrors.length || !source.tree) {
    return { kind: 'syntax', source, problems: source.syntaxErrors.length ? source.syntaxErrors.slice(0, 1) : [{ line: 1, column: 1, message: 'the file is empty' }] };
  }
  // Strict JSON is already established above, so JSON.parse agrees with the tree.
  const raw: unknown = JSON.parse(text);
  const problems = validateSchema(raw);
  if (problems.length) return { kind: 'schema', source, problems };
  const obj = raw as Record<string, unknown>;
  if ('policy' in obj) {
    const w = obj as unknown as Wrapper;
    const service: ServicePolicy = {
      ...where,
      policy: w.policy,
      managedPolicyArns: w.managedPolicyArns ?? [],
      ...(w.maxSessionDuration !== undefined ? { maxSessionDuration: w.maxSessionDuration } : {}),
      ...(w.description !== undefined ? { description: w.description } : {}),
      ...(w.owners !== undefined ? { owners: w.owners } : {}),
      ...(w.expect !== undefined ? { expect: w.expect } : {}),
    };
    return { kind: 'ok', source, service, policyPath: ['policy'] };
  }
  return { kind: 'ok', source, service: { ...where, policy: obj as unknown as PolicyDocument, managedPolicyArns: [] }, policyPath: [] };
}
