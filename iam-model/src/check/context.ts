/** What each rule gets for one file: the parsed policy, where its parts sit, and a way to report. */
import type { Guardrails, PolicyStatement, ServicePolicy } from '../bundle/bundle.ts';
import type { IamCatalog } from '../catalog/iam-catalog.ts';
import { findingCodes, jsonPath, type Finding, type FindingCode, type PathSegment } from './finding.ts';
import type { SourceFile } from './source.ts';

export type ListMember = 'Action' | 'NotAction' | 'Resource' | 'NotResource';

export interface StatementView {
  /**
   * The statement's well-formed members. A member of the wrong shape (reported by the schema) is
   * left out, except that a broken Action, NotAction, Resource, NotResource or Condition stays
   * present but empty, so rules do not also report it as missing.
   */
  stmt: PolicyStatement;
  /** JSON path of the statement, e.g. ['policy', 'Statement', 0]. */
  path: PathSegment[];
  /** Sid, or the statement's index, for messages. */
  label: string;
  /** The strings of Action/NotAction/Resource/NotResource, each at its own index in the file. */
  values: Record<ListMember, ValueAt[]>;
  /** Members with the wrong shape: rules that need all of a member's value skip it. */
  broken: ReadonlySet<string>;
}

export interface ValueAt {
  value: string;
  path: PathSegment[];
}

export interface FileContext {
  file: string;
  source: SourceFile;
  service: ServicePolicy;
  /** [] for a plain document, ['policy'] for the wrapper form. */
  policyPath: PathSegment[];
  statements: StatementView[];
  /** False when the schema found problems in the statements: the policy cannot be evaluated then. */
  policyIntact: boolean;
  guardrails: Guardrails;
  catalog: IamCatalog;
  report(code: FindingCode, path: readonly PathSegment[], message: string): void;
}

export function makeReporter(file: string, source: SourceFile | undefined, sink: Finding[]) {
  return (code: FindingCode, path: readonly PathSegment[], message: string): void => {
    const at = source ? source.locate(path) : { line: 1, column: 1 };
    sink.push({ code, severity: findingCodes[code], file, path: jsonPath(path), line: at.line, column: at.column, message });
  };
}

const LIST_MEMBERS: readonly ListMember[] = ['Action', 'NotAction', 'Resource', 'NotResource'];

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isConditionValue(v: unknown): v is string | boolean | number | (string | boolean | number)[] {
  const scalar = (x: unknown) => typeof x === 'string' || typeof x === 'boolean' || typeof x === 'number';
  return scalar(v) || (Array.isArray(v) && v.every(scalar));
}

/**
 * One statement as the rules see it, from whatever the file holds: a file that fails the schema
 * is still checked, so nothing here may assume a shape. Not an object: no view.
 */
export function statementView(raw: unknown, path: PathSegment[], index: number): StatementView | undefined {
  if (!isObject(raw)) return undefined;
  const broken = new Set<string>();
  const stmt: Partial<PolicyStatement> = {};
  const values = {} as Record<ListMember, ValueAt[]>;
  if (typeof raw.Sid === 'string') stmt.Sid = raw.Sid;
  else if (raw.Sid !== undefined) broken.add('Sid');
  if (raw.Effect === 'Allow' || raw.Effect === 'Deny') stmt.Effect = raw.Effect;
  else broken.add('Effect');
  for (const key of LIST_MEMBERS) {
    const v = raw[key];
    values[key] = [];
    if (v === undefined) continue;
    if (typeof v === 'string' && v !== '') {
      stmt[key] = v;
      values[key].push({ value: v, path: [...path, key] });
      continue;
    }
    const items = Array.isArray(v) ? v : [];
    items.forEach((value, i) => {
      if (typeof value === 'string' && value !== '') values[key].push({ value, path: [...path, key, i] });
    });
    stmt[key] = values[key].map((x) => x.value);
    if (items.length === 0 || values[key].length !== items.length) broken.add(key);
  }
  if (raw.Condition !== undefined) {
    const condition: NonNullable<PolicyStatement['Condition']> = {};
    for (const [op, block] of Object.entries(isObject(raw.Condition) ? raw.Condition : {})) {
      condition[op] = {};
      for (const [key, value] of Object.entries(isObject(block) ? block : {})) {
        if (isConditionValue(value)) condition[op][key] = value;
        else broken.add('Condition');
      }
      if (!isObject(block)) broken.add('Condition');
    }
    if (!isObject(raw.Condition)) broken.add('Condition');
    stmt.Condition = condition;
  }
  if (raw.Principal !== undefined) stmt.Principal = raw.Principal;
  if (raw.NotPrincipal !== undefined) stmt.NotPrincipal = raw.NotPrincipal;
  // Without a valid Effect the statement is neither an Allow nor a Deny to the rules.
  return { stmt: stmt as PolicyStatement, path, label: stmt.Sid ? `'${stmt.Sid}'` : `#${index}`, values, broken };
}

/** The statements of a policy document (one object or an array); entries that are not objects are skipped. */
export function statementViews(document: unknown, policyPath: PathSegment[]): StatementView[] {
  const s = isObject(document) ? document.Statement : undefined;
  if (Array.isArray(s)) {
    return s.flatMap((raw, i) => statementView(raw, [...policyPath, 'Statement', i], i) ?? []);
  }
  const one = statementView(s, [...policyPath, 'Statement'], 0);
  return one ? [one] : [];
}

/** The strings of Action/NotAction/Resource/NotResource with their paths. */
export function valuesAt(view: StatementView, key: ListMember): ValueAt[] {
  return view.values[key];
}
