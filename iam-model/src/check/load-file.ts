/** One policies/<namespace>/<service>.json: text → ServicePolicy, or the findings that stop it. */
import type { ExpectCase, PolicyDocument, ServicePolicy } from '../bundle/bundle.ts';
import { isObject } from './context.ts';
import type { PathSegment } from './finding.ts';
import { validateSchema, type SchemaProblem } from './schema.ts';
import { SourceFile, type SyntaxProblem } from './source.ts';

export type LoadedFile =
  | { kind: 'syntax'; source: SourceFile; problems: SyntaxProblem[] }
  | { kind: 'schema'; source: SourceFile; problems: SchemaProblem[]; partial?: { service: ServicePolicy; policyPath: PathSegment[] } }
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
  if (problems.length) {
    const partial = salvage(raw, where);
    return { kind: 'schema', source, problems, ...(partial ? { partial } : {}) };
  }
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

/**
 * What the other rules can still check in a file that fails the schema: each member that has its
 * expected shape, the rest left out. The policy document is passed on as it is (the rules read its
 * statements through statementViews, which tolerates any shape); expect cases are checked one by
 * one by the expect rules. Not an object at all: nothing to check.
 */
function salvage(raw: unknown, where: { namespace: string; service: string; file: string }): { service: ServicePolicy; policyPath: PathSegment[] } | undefined {
  if (!isObject(raw)) return undefined;
  if (!('policy' in raw)) return { service: { ...where, policy: raw as unknown as PolicyDocument, managedPolicyArns: [] }, policyPath: [] };
  const arns = raw.managedPolicyArns;
  const expect = raw.expect;
  const service: ServicePolicy = {
    ...where,
    policy: (isObject(raw.policy) ? raw.policy : {}) as unknown as PolicyDocument,
    // One entry of the wrong type, and the list (its indices, its count) is not trusted.
    managedPolicyArns: Array.isArray(arns) && arns.every((a) => typeof a === 'string') ? arns : [],
    ...(typeof raw.maxSessionDuration === 'number' ? { maxSessionDuration: raw.maxSessionDuration } : {}),
    ...(isObject(expect)
      ? { expect: { ...(Array.isArray(expect.allow) ? { allow: expect.allow as ExpectCase[] } : {}), ...(Array.isArray(expect.deny) ? { deny: expect.deny as ExpectCase[] } : {}) } }
      : {}),
  };
  return { service, policyPath: ['policy'] };
}
