/** What each rule gets for one file: the parsed policy, where its parts sit, and a way to report. */
import type { Guardrails, PolicyStatement, ServicePolicy } from '../bundle/bundle.ts';
import type { IamCatalog } from '../catalog/iam-catalog.ts';
import { findingCodes, jsonPath, type Finding, type FindingCode, type PathSegment } from './finding.ts';
import type { SourceFile } from './source.ts';

export interface StatementView {
  stmt: PolicyStatement;
  /** JSON path of the statement, e.g. ['policy', 'Statement', 0]. */
  path: PathSegment[];
  /** Sid, or the statement's index, for messages. */
  label: string;
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

export function statementViews(service: ServicePolicy, policyPath: PathSegment[]): StatementView[] {
  const s = service.policy.Statement;
  if (Array.isArray(s)) {
    return s.map((stmt, i) => ({ stmt, path: [...policyPath, 'Statement', i], label: stmt.Sid ? `'${stmt.Sid}'` : `#${i}` }));
  }
  return [{ stmt: s, path: [...policyPath, 'Statement'], label: s.Sid ? `'${s.Sid}'` : '#0' }];
}

/** The strings of Action/NotAction/Resource/NotResource with their paths. */
export function valuesAt(view: StatementView, key: 'Action' | 'NotAction' | 'Resource' | 'NotResource'): ValueAt[] {
  const v = view.stmt[key];
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map((value, i) => ({ value, path: [...view.path, key, i] }));
  return [{ value: v, path: [...view.path, key] }];
}
