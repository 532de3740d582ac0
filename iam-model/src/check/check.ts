/**
 * `podiam check`: every policy file under a policies folder, every rule, one list of findings.
 * Pure apart from reading the folder; the catalog and schema are loaded once per process.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Guardrails, ServicePolicy } from '../bundle/bundle.ts';
import { serviceRoleTrustPolicy } from '../trust.ts';
import { iamCatalog, type IamCatalog } from '../catalog/iam-catalog.ts';
import { CheckInputError } from '../errors.ts';
import { catalogRules } from './catalog-rules.ts';
import { makeReporter, statementViews, type FileContext } from './context.ts';
import { expectRules } from './expect-rules.ts';
import { findDuplicateKeys } from './duplicate-keys.ts';
import { jsonPath, sortFindings, type Finding } from './finding.ts';
import { grammarRules } from './grammar-rules.ts';
import { guardrailRules } from './guardrail-rules.ts';
import { readGuardrails } from './guardrails.ts';
import { loadPolicyFile } from './load-file.ts';
import { collisionRules, nameRules, type NamedFile } from './name-rules.ts';
import { securityRules } from './security-rules.ts';
import { iamPolicySize, sizeRules } from './size-rules.ts';

/** Files in the policies folder that are not service policies. */
export const RESERVED_FILES = new Set(['guardrails.json', 'schema.json']);

export const DEFAULT_CLUSTER = 'dev';

export interface CheckOptions {
  /** The policies folder. */
  root: string;
  /** Default: <root>/guardrails.json. */
  guardrailsFile?: string;
  /** Guardrails given directly (tests); wins over guardrailsFile. */
  guardrails?: Guardrails;
  /** For the role name rules. */
  cluster: string;
  catalog?: IamCatalog;
  /** Base for the file names in findings; default the current directory. */
  cwd?: string;
}

export interface CheckResult {
  findings: Finding[];
  /** Files that parsed and passed the schema (they may still have findings). */
  services: ServicePolicy[];
  guardrails: Guardrails;
  filesChecked: number;
  errors: number;
  warnings: number;
  suggestions: number;
}

interface Discovered {
  abs: string;
  namespace: string;
  service: string;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

function discover(root: string, report: (abs: string, message: string) => void): Discovered[] {
  const out: Discovered[] = [];
  for (const ns of readdirSync(root).sort()) {
    if (ns.startsWith('.')) continue;
    const nsPath = path.join(root, ns);
    if (!statSync(nsPath).isDirectory()) {
      if (ns.endsWith('.json') && !RESERVED_FILES.has(ns)) report(nsPath, `a policy file must live in a namespace folder; move it to <policies>/<namespace>/${ns}.`);
      continue;
    }
    for (const name of readdirSync(nsPath).sort()) {
      if (name.startsWith('.')) continue;
      const abs = path.join(nsPath, name);
      if (statSync(abs).isDirectory()) {
        report(abs, `folders inside a namespace folder are not read; move its files to <policies>/${ns}/<service>.json.`);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      out.push({ abs, namespace: ns, service: name.slice(0, -'.json'.length) });
    }
  }
  return out;
}

/** An estimate of the generated trust policy for the size rule: two intermediate roles (as during a rotation). */
export function trustPolicySizeFor(namespace: string, cluster: string): number {
  const arns = [1, 2].map((n) => `arn:aws:iam::123456789012:role/podiam-node/${cluster}-node-proxy-${n}`);
  return iamPolicySize(serviceRoleTrustPolicy({ intermediateRoleArns: arns, externalId: 'x'.repeat(32) }, namespace));
}

export interface FileWhere {
  /** For findings (relative to the current directory). */
  file: string;
  /** For the bundle: <policies folder name>/<namespace>/<service>.json. */
  bundleFile: string;
  namespace: string;
  service: string;
}

/** Every per-file rule on one file's text; findings go to `findings`. */
export function checkFileText(
  text: string,
  where: FileWhere,
  settings: { cluster: string; guardrails: Guardrails; catalog?: IamCatalog },
  findings: Finding[],
): { service?: ServicePolicy; named?: NamedFile & { roleName: string } } {
  const { file, namespace, service } = where;
  const catalog = settings.catalog ?? iamCatalog();
  const loaded = loadPolicyFile(text, { namespace, service, file: where.bundleFile });
  const report = makeReporter(file, loaded.source, findings);
  const roleName = nameRules({ file, namespace, service, report }, settings.cluster);
  const named = roleName ? { file, namespace, service, report, roleName } : undefined;
  const out = named ? { named } : {};

  if (loaded.kind === 'syntax') {
    for (const p of loaded.problems) findings.push({ code: 'PODIAM_CHECK_JSON_SYNTAX', severity: 'error', file, path: '$', line: p.line, column: p.column, message: `${p.message}.` });
    return out;
  }
  for (const dup of findDuplicateKeys(loaded.source.tree)) {
    const at = loaded.source.position(dup.offset);
    findings.push({ code: 'PODIAM_CHECK_DUPLICATE_KEY', severity: 'error', file, path: jsonPath(dup.path), line: at.line, column: at.column, message: `'${dup.key}' appears twice in the same object, and only the last one counts; merge them into one member.` });
  }
  // A file that fails the schema is still checked as far as its shape allows, so one run reports
  // every problem of every file; it never reaches the bundle.
  let policyIntact = true;
  if (loaded.kind === 'schema') {
    for (const p of loaded.problems) report('PODIAM_CHECK_SCHEMA', p.path, `${p.message}.`);
    if (!loaded.partial) return out;
    // Evaluating the expect cases needs every statement as written: a problem in, or above, the
    // statements (a dropped Condition would widen what they allow) rules that out.
    const statementsPath = [...loaded.partial.policyPath, 'Statement'];
    policyIntact = !loaded.problems.some((p) => p.path.slice(0, statementsPath.length).every((seg, i) => seg === statementsPath[i]));
  }
  const checked = loaded.kind === 'schema' ? loaded.partial! : loaded;
  const ctx: FileContext = {
    file,
    source: loaded.source,
    service: checked.service,
    policyPath: checked.policyPath,
    statements: statementViews(checked.service.policy, checked.policyPath),
    policyIntact,
    guardrails: settings.guardrails,
    catalog,
    report,
  };
  grammarRules(ctx);
  catalogRules(ctx);
  guardrailRules(ctx);
  sizeRules(ctx, roleName ? trustPolicySizeFor(namespace, settings.cluster) : undefined);
  securityRules(ctx);
  expectRules(ctx);
  return loaded.kind === 'ok' ? { ...out, service: loaded.service } : out;
}

export function checkPolicies(options: CheckOptions): CheckResult {
  const root = path.resolve(options.root);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new CheckInputError('PODIAM_POLICIES_DIR_NOT_FOUND', `${options.root} is not a folder.`);
  }
  const cwd = options.cwd ?? process.cwd();
  const display = (abs: string) => toPosix(path.relative(cwd, abs)) || '.';
  const guardrails = options.guardrails ?? readGuardrails(options.guardrailsFile ?? path.join(root, 'guardrails.json'));
  const catalog = options.catalog ?? iamCatalog();
  const findings: Finding[] = [];
  const services: ServicePolicy[] = [];
  const named: Array<NamedFile & { roleName: string }> = [];

  const files = discover(root, (abs, message) => makeReporter(display(abs), undefined, findings)('PODIAM_CHECK_LAYOUT', [], message));
  for (const d of files) {
    const file = display(d.abs);
    const bundleFile = toPosix(path.join(path.basename(root), d.namespace, `${d.service}.json`));
    const one = checkFileText(readFileSync(d.abs, 'utf8'), { file, bundleFile, namespace: d.namespace, service: d.service }, { cluster: options.cluster, guardrails, catalog }, findings);
    if (one.named) named.push(one.named);
    if (one.service) services.push(one.service);
  }
  collisionRules(named);

  const sorted = sortFindings(findings);
  return {
    findings: sorted,
    services,
    guardrails,
    filesChecked: files.length,
    errors: sorted.filter((f) => f.severity === 'error').length,
    warnings: sorted.filter((f) => f.severity === 'warning').length,
    suggestions: sorted.filter((f) => f.severity === 'suggestion').length,
  };
}
